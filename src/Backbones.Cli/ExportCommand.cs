using System.CommandLine;
using Backbones.Models;
using Backbones.Onnx;
using Backbones.Serialization;

namespace Backbones.Cli;

/// <summary>
/// <c>backbones export MODEL [--weights W] -o FILE.onnx [--input 3x224x224] [--dynamic-batch] [--opset N] [--layers L1,L2]</c>:
/// writes the model as ONNX (BatchNorm folded, the weights' preprocessing and categories in the metadata) and says what it wrote.
/// </summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "Architecture name (see backbones models)" };
        var weights = new Option<string?>("--weights") { Description = "Catalogue weights name (IMAGENET1K_V2, DEFAULT) or a checkpoint file (a fine-tuned head's size is read from it)" };
        var output = new Option<string>("--output", "-o") { Description = "The .onnx file to write", Required = true };
        var input = new Option<string?>("--input") { Description = "One input sample as CxHxW (default: the model's channels at the weights' crop size, else 224)" };
        var batch = new Option<long>("--batch") { Description = "Batch size written into the graph", DefaultValueFactory = _ => 1 };
        var dynamicBatch = new Option<bool>("--dynamic-batch") { Description = "Make the batch dimension symbolic" };
        var opset = new Option<int>("--opset") { Description = $"ONNX operator set ({OnnxExporter.MinOpset}-{OnnxExporter.MaxOpset})", DefaultValueFactory = _ => 17 };
        var layers = new Option<string?>("--layers") { Description = "Comma-separated module paths whose outputs become extra outputs (layer3,layer4)" };
        var classes = new Option<long?>("--num-classes") { Description = "Classifier outputs (default: the weights file's, else 1000)" };
        var until = new Option<string>("--model-output") { Description = "Where the forward stops: logits, pre-logits or features", DefaultValueFactory = _ => "logits" };
        until.AcceptOnlyFromAmong("logits", "pre-logits", "features");
        var command = new Command("export", "Write a model as an ONNX file") { model, weights, output, input, batch, dynamicBatch, opset, layers, classes, until };
        command.SetAction(parsed =>
        {
            using var net = CreateModel(parsed.GetValue(model)!, parsed.GetValue(weights), parsed.GetValue(classes));
            var options = new OnnxExportOptions
            {
                InputShape = parsed.GetValue(input) is { } shape ? ParseShape(shape) : null,
                BatchSize = parsed.GetValue(batch),
                DynamicBatch = parsed.GetValue(dynamicBatch),
                Opset = parsed.GetValue(opset),
                Layers = SplitList(parsed.GetValue(layers)),
                Output = ParseOutput(parsed.GetValue(until)!),
            };
            parsed.InvocationConfiguration.Output.WriteLine(OnnxExporter.Export(net, parsed.GetValue(output)!, options));
            return BackbonesCli.Success;
        });
        return command;
    }

    /// <summary>
    /// Builds <paramref name="name"/> with <paramref name="weights"/>; a checkpoint file whose classifier has another size
    /// (a fine-tuned head) builds the model with that many classes, unless <paramref name="numClasses"/> says otherwise.
    /// </summary>
    internal static Backbone CreateModel(string name, string? weights, long? numClasses)
    {
        var model = ModelZoo.Create(name, new ModelOptions { Weights = weights, NumClasses = numClasses ?? 1000 });
        if (numClasses is not null || model.LoadedWeights is not { HeadReplaced: true, Catalogue: null } loaded) return model;
        string key = model.ClassifierPath + ".weight";
        long fileClasses;
        using (var state = StateDict.Load(loaded.File))
            fileClasses = state.FirstOrDefault(kv => kv.Key == key).Value?.shape[0] ?? throw new CliUsageException($"{loaded.File} has no {key}");
        model.Dispose();
        return ModelZoo.Create(name, new ModelOptions { Weights = weights, NumClasses = fileClasses });
    }

    internal static List<string> SplitList(string? list) =>
        (list ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    internal static long[] ParseShape(string text)
    {
        var parts = text.Split('x', 'X', '×');
        var dims = parts.Select(p => long.TryParse(p, out long d) && d > 0 ? d : -1).ToArray();
        if (dims.Length != 3 || dims.Any(d => d < 1)) throw new CliUsageException($"--input '{text}' is not CxHxW with positive sizes (3x224x224)");
        return dims;
    }

    internal static ModelOutput ParseOutput(string text) => text switch
    {
        "pre-logits" => ModelOutput.PreLogits,
        "features" => ModelOutput.Features,
        _ => ModelOutput.Logits,
    };
}
