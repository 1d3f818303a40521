using System.CommandLine;
using System.Text.Json;
using Backbones.Onnx;
using Backbones.Vision;

namespace Backbones.Cli;

/// <summary>
/// <c>backbones classify MODEL [--weights W] IMAGE... [--topk 5] [--json] [--labels FILE]</c>: the top classes of each
/// image with softmax percentages. Unreadable images are reported on standard error and the others still classified
/// (exit code 2 when any was unreadable).
/// </summary>
internal static class ClassifyCommand
{
    public static Command Create()
    {
        var common = new ImageModelOptions();
        var images = new Argument<string[]>("images") { Description = "Image files (JPEG, PNG, GIF, WebP, BMP)", Arity = ArgumentArity.OneOrMore };
        var topK = new Option<int>("--topk") { Description = "Classes to show per image", DefaultValueFactory = _ => 5 };
        var json = new Option<bool>("--json") { Description = "Print one JSON document" };
        var labels = new Option<string?>("--labels") { Description = "Class names, one a line, for a model not trained on ImageNet" };
        var batch = new Option<int>("--batch") { Description = "Images per forward", DefaultValueFactory = _ => 32 };
        var engine = new EngineOptions();
        var command = new Command("classify", "Top-k classes of images, with probabilities");
        common.AddTo(command);
        engine.AddTo(command);
        command.Arguments.Add(images);
        foreach (var o in new Option[] { topK, json, labels, batch }) command.Options.Add(o);
        command.SetAction(parsed =>
        {
            var output = parsed.InvocationConfiguration.Output;
            var error = parsed.InvocationConfiguration.Error;
            if (parsed.GetValue(topK) < 1) throw new CliUsageException("--topk must be at least 1");
            if (parsed.GetValue(batch) < 1) throw new CliUsageException("--batch must be at least 1");
            Runtime.NativeHeap.KeepFreedMemory(); // batch after batch of large activations: reuse mapped pages
            using var model = common.CreateModel(parsed, error);
            var names = ClassLabels.For(parsed.GetValue(common.Model)!, parsed.GetValue(common.Weights), model.NumClasses, parsed.GetValue(labels));
            using var runner = InferenceEngine.Create(model, engine.Read(parsed));
            var classifier = new ImageClassifier(runner, common.Preprocessing(parsed), names);
            var results = classifier.Classify(ImageFile.Of(parsed.GetValue(images)!), parsed.GetValue(topK),
                new ImagePipelineOptions { BatchSize = parsed.GetValue(batch) });

            int failed = 0;
            var document = new List<object>();
            foreach (var r in results)
            {
                if (!r.Succeeded)
                {
                    failed++;
                    error.WriteLine($"error: {r.File.Path}: {r.Problem}");
                    document.Add(new { path = r.File.Name, error = r.Problem });
                    continue;
                }
                if (parsed.GetValue(json))
                    document.Add(new { path = r.File.Name, top = r.Top.Select(p => new { index = p.Index, label = p.Label, probability = p.Probability }) });
                else
                {
                    output.WriteLine(r.File.Name);
                    foreach (var p in r.Top) output.WriteLine($"  {p}");
                }
            }
            if (parsed.GetValue(json)) output.WriteLine(JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true }));
            return failed == 0 ? BackbonesCli.Success : BackbonesCli.BadInput;
        });
        return command;
    }
}
