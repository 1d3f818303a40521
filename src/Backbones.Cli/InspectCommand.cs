using System.CommandLine;
using Backbones.Inspection;
using Backbones.Serialization;

namespace Backbones.Cli;

/// <summary>
/// <c>backbones inspect FILE [--json] [--stats]</c>: the format, every tensor with dtype, shape, strides when not
/// contiguous and element count (with --stats its sum, min, max and mean in float64), the non-tensor entries, totals.
/// </summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "A .pth (zip, legacy or tar) or .safetensors checkpoint" };
        var json = new Option<bool>("--json") { Description = "Print one JSON document" };
        var stats = new Option<bool>("--stats") { Description = "Also print sum, min, max and mean of every tensor (computed in float64)" };
        var command = new Command("inspect", "List the tensors and values in a checkpoint file") { file, json, stats };
        command.SetAction(parsed =>
        {
            var output = parsed.InvocationConfiguration.Output;
            using var checkpoint = Checkpoint.Load(parsed.GetValue(file)!);
            var report = CheckpointReport.Build(checkpoint, parsed.GetValue(stats));
            if (parsed.GetValue(json)) report.WriteJson(output);
            else report.WriteText(output);
            return BackbonesCli.Success;
        });
        return command;
    }
}
