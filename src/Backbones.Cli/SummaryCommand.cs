using System.CommandLine;
using System.Text.Json;
using Backbones.Inspection;

namespace Backbones.Cli;

/// <summary>
/// <c>backbones summary MODEL [--input 3x224x224] [--batch N] [--depth D] [--weights W] [--json] [--tree]</c>: torchinfo's
/// table of a model (output shapes, parameters, mult-adds, totals), or with <c>--tree</c> the module tree as <c>print(model)</c> shows it.
/// </summary>
internal static class SummaryCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "Architecture name (see backbones models)" };
        var weights = new Option<string?>("--weights") { Description = "Catalogue weights name or a checkpoint file (a fine-tuned head's size is read from it)" };
        var input = new Option<string?>("--input") { Description = "One input sample as CxHxW (default: the model's channels at the weights' crop size, else 224)" };
        var batch = new Option<long>("--batch") { Description = "Batch size of the forward that is measured", DefaultValueFactory = _ => 1 };
        var depth = new Option<int>("--depth") { Description = "Deepest module level listed (1: the model's children)", DefaultValueFactory = _ => 3 };
        var json = new Option<bool>("--json") { Description = "Print rows and totals as one JSON document" };
        var tree = new Option<bool>("--tree") { Description = "Print the module tree as PyTorch's print(model) does, instead of the table" };
        var command = new Command("summary", "Output shapes, parameters and mult-adds of every module, and totals") { model, weights, input, batch, depth, json, tree };
        command.SetAction(parsed =>
        {
            var output = parsed.InvocationConfiguration.Output;
            int levels = parsed.GetValue(depth);
            if (levels < 1) throw new CliUsageException($"--depth must be at least 1, got {levels}");
            long n = parsed.GetValue(batch);
            if (n < 1) throw new CliUsageException($"--batch must be at least 1, got {n}");
            using var net = ExportCommand.CreateModel(parsed.GetValue(model)!, parsed.GetValue(weights), null);
            if (parsed.GetValue(tree))
            {
                output.Write(ModuleTree.Format(net));
                return BackbonesCli.Success;
            }
            var summary = ModelSummary.Create(net, n, parsed.GetValue(input) is { } shape ? ExportCommand.ParseShape(shape) : null);
            if (parsed.GetValue(json)) output.WriteLine(JsonSerializer.Serialize(summary.ToJson(levels), new JsonSerializerOptions { WriteIndented = true }));
            else summary.WriteText(output, levels);
            return BackbonesCli.Success;
        });
        return command;
    }
}
