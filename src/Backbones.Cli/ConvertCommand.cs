using System.CommandLine;
using Backbones.Serialization;

namespace Backbones.Cli;

/// <summary>
/// <c>backbones convert IN OUT [--select KEY] [--strip-prefix P] [--drop REGEX]... [--rename REGEX=REPLACEMENT]...</c>:
/// reads a state dict from .pth or .safetensors, edits its keys, writes the format of OUT's extension, and
/// prints every key it dropped or renamed.
/// </summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("in") { Description = "Checkpoint to read (.pth or .safetensors)" };
        var output = new Argument<string>("out") { Description = "File to write; .safetensors writes safetensors, anything else .pth (zip)" };
        var select = new Option<string?>("--select") { Description = "Dotted path of the state dict inside a wrapped checkpoint (e.g. state_dict)" };
        var strip = new Option<string?>("--strip-prefix") { Description = "Remove this prefix from keys that have it (e.g. module.)" };
        var drop = new Option<string[]>("--drop") { Description = "Drop keys matching this regular expression (repeatable)", AllowMultipleArgumentsPerToken = false };
        var rename = new Option<string[]>("--rename") { Description = "REGEX=REPLACEMENT, applied to every key in order (repeatable)" };
        var command = new Command("convert", "Edit a state dict's keys and write it as .pth or .safetensors") { input, output, select, strip, drop, rename };
        command.SetAction(parsed =>
        {
            var log = parsed.InvocationConfiguration.Output;
            var drops = (parsed.GetValue(drop) ?? []).Select(p => Patterns.Parse(p, "--drop")).ToList();
            var renames = (parsed.GetValue(rename) ?? []).Select(r => Patterns.ParseRename(r)).ToList();
            using var state = StateDict.Load(parsed.GetValue(input)!, parsed.GetValue(select));
            if (parsed.GetValue(strip) is { Length: > 0 } prefix)
                foreach (var (from, to) in state.StripPrefix(prefix)) log.WriteLine($"renamed {from} -> {to}");
            foreach (var pattern in drops)
                foreach (var key in state.Drop(pattern)) log.WriteLine($"dropped {key}");
            foreach (var (pattern, replacement) in renames)
                foreach (var (from, to) in state.Rename(pattern, replacement)) log.WriteLine($"renamed {from} -> {to}");
            string target = parsed.GetValue(output)!;
            state.Save(target);
            log.WriteLine($"wrote {target} ({Checkpoint.FormatForExtension(target)}, {state.Count} tensors)");
            return BackbonesCli.Success;
        });
        return command;
    }
}
