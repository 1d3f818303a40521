using System.CommandLine;
using TorchSharp;
using System.Globalization;
using System.Text.Json;
using Backbones.Data;
using Backbones.Models;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Training;
using Backbones.Vision;

namespace Backbones.Cli;

/// <summary>
/// <c>backbones evaluate --model M --weights RUN/best.pth --data DIR</c>: accuracy, top-5, per-class precision and
/// recall, and the confusion matrix of a trained model on a labelled folder (its val/ when it has train/ and val/).
/// </summary>
internal static class EvaluateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Architecture name", Required = true };
        var weights = new Option<string>("--weights") { Description = "A checkpoint (RUN/best.pth, or any state dict of the model)", Required = true };
        var data = new Option<string>("--data") { Description = "Labelled image folder (a folder per class; its val/ if it has train/ and val/)", Required = true };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 32 };
        var channels = new Option<int>("--in-channels") { Description = "Input channels the model was trained with", DefaultValueFactory = _ => 3 };
        channels.AcceptOnlyFromAmong("1", "3");
        var json = new Option<bool>("--json") { Description = "Print one JSON document" };
        var confusion = new Option<string?>("--confusion") { Description = "Also draw the confusion matrix into this PNG" };
        var device = new Option<string>("--device") { DefaultValueFactory = _ => "cpu" };
        var size = new ImageSizeOptions();
        var command = new Command("evaluate", "Accuracy, per-class precision/recall and confusion matrix of a trained model");
        foreach (var o in new Option[] { model, weights, data, batch, channels, json, confusion, device }) command.Options.Add(o);
        size.AddTo(command);
        command.SetAction(parsed =>
        {
            var stdout = parsed.InvocationConfiguration.Output;
            if (parsed.GetValue(batch) < 1) throw new CliUsageException("--batch must be at least 1");
            string name = parsed.GetValue(model)!, file = parsed.GetValue(weights)!;
            int inChannels = parsed.GetValue(channels);
            var dataset = FineTuneData.ForEvaluation(parsed.GetValue(data)!);
            var trained = TrainedWith(file);
            if (trained.Classes is { } classes && !classes.SequenceEqual(dataset.Classes))
                throw new CliUsageException($"{file} was trained on the classes {string.Join(", ", classes)}, the folder has {string.Join(", ", dataset.Classes)}");
            var where = TorchSharp.torch.device(parsed.GetValue(device)!);
            using var net = ModelZoo.Create(name, new ModelOptions { Weights = file, NumClasses = dataset.Classes.Count, InChannels = inChannels });
            if (net.LoadedWeights is { HeadReplaced: true }) throw new CliUsageException($"{file} has a head for another number of classes than the folder's {dataset.Classes.Count}");
            net.to(where);
            var loader = new DataLoader(dataset, new EvalTransform(size.Apply(parsed, ImagePreprocessing.For(name, trained.Weights ?? file)), inChannels),
                new DataLoaderOptions { BatchSize = parsed.GetValue(batch), Shuffle = false });
            var result = Evaluation.Evaluate(net, loader, where);
            if (parsed.GetValue(confusion) is { } png) TrainingCharts.WriteConfusion(png, result.Confusion, $"{name} on {parsed.GetValue(data)}");

            var scores = TrainingReport.Scores(result.Confusion);
            if (parsed.GetValue(json))
            {
                stdout.WriteLine(JsonSerializer.Serialize(new
                {
                    images = result.Count, loss = result.Loss, accuracy = result.Top1, top5 = result.Top5, classes = scores, confusion = result.Confusion.Rows(),
                }, new JsonSerializerOptions { WriteIndented = true }));
                return BackbonesCli.Success;
            }
            stdout.WriteLine(result);
            int width = Math.Max(5, dataset.Classes.Max(c => c.Length));
            stdout.WriteLine($"{"class".PadRight(width)}  precision  recall  images");
            foreach (var s in scores)
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{s.Name.PadRight(width)}  {s.Precision * 100,8:F2}%  {s.Recall * 100,5:F1}%  {s.Support,6}"));
            stdout.WriteLine("confusion (rows true, columns predicted):");
            foreach (var (row, i) in result.Confusion.Rows().Select((r, i) => (r, i)))
                stdout.WriteLine($"{dataset.Classes[i].PadRight(width)}  {string.Join(" ", row.Select(c => c.ToString(CultureInfo.InvariantCulture).PadLeft(5)))}");
            foreach (var failure in loader.Failures) parsed.InvocationConfiguration.Error.WriteLine($"skipped {failure}");
            return BackbonesCli.Success;
        });
        return command;
    }

    /// <summary>The classes and starting weights a fine-tuning checkpoint names, when it is one.</summary>
    static (IReadOnlyList<string>? Classes, string? Weights) TrainedWith(string file)
    {
        using var checkpoint = Checkpoint.Load(file);
        if (checkpoint.Root is not PyDict root) return (null, null);
        var classes = root.GetValueOrDefault("classes") is System.Collections.IList list ? list.OfType<string>().ToList() : null;
        var weights = root.GetValueOrDefault("args") is PyDict args ? args.GetValueOrDefault("weights") as string : null;
        return (classes, weights);
    }
}
