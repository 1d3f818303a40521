using System.CommandLine;
using System.Text.Json;
using Backbones.Models;
using Backbones.Serialization;
using Backbones.Transfer;

namespace Backbones.Cli;

/// <summary>
/// <c>backbones load MODEL CHECKPOINT [rules] [--by-position [--count N] [--up-to KEY]] [--strict] [--json] [-o OUT]</c>:
/// loads a checkpoint into a fresh model of the zoo the way a recipe would, prints what was loaded, skipped,
/// missing, unexpected or shape-mismatched, and optionally writes the model's resulting state dict.
/// </summary>
internal static class LoadCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "Architecture name (see backbones models)" };
        var checkpoint = new Argument<string>("checkpoint") { Description = "Checkpoint to load (.pth or .safetensors)" };
        var classes = new Option<long?>("--num-classes") { Description = "Classifier outputs of the model (default 1000)" };
        var channels = new Option<long?>("--in-channels") { Description = "Input channels of the model (default 3)" };
        var select = new Option<string?>("--select") { Description = "Dotted path of the state dict inside a wrapped checkpoint (e.g. state_dict)" };
        var prefix = new Option<string?>("--prefix") { Description = "Load only keys under this prefix, without it (e.g. backbone)" };
        var strip = new Option<string[]>("--strip-prefix") { Description = "Remove this prefix from keys that have it (repeatable; e.g. module.)" };
        var add = new Option<string?>("--add-prefix") { Description = "Put this prefix in front of every key" };
        var rename = new Option<string[]>("--rename") { Description = "REGEX=REPLACEMENT applied to every key, in order (repeatable)" };
        var skip = new Option<string[]>("--skip") { Description = "Do not load keys matching this glob, after renames (repeatable; e.g. 'fc.*')" };
        var skipRegex = new Option<string[]>("--skip-regex") { Description = "Do not load keys matching this regular expression (repeatable)" };
        var byPosition = new Option<bool>("--by-position") { Description = "Pair the model's keys with the checkpoint's in order instead of by name" };
        var count = new Option<int?>("--count") { Description = "By position: pair only the first N entries" };
        var upTo = new Option<string?>("--up-to") { Description = "By position: pair up to and including this model key" };
        var strict = new Option<bool>("--strict") { Description = "Fail when any key is missing, unexpected or shape-mismatched" };
        var all = new Option<bool>("--all") { Description = "List every loaded key, not only renamed ones" };
        var json = new Option<bool>("--json") { Description = "Print the report as one JSON document" };
        var output = new Option<string?>("--output", "-o") { Description = "Write the model's state dict after loading (.pth or .safetensors)" };
        var command = new Command("load", "Load a checkpoint into a model by name or position and report key by key")
        {
            model, checkpoint, classes, channels, select, prefix, strip, add, rename, skip, skipRegex, byPosition, count, upTo, strict, all, json, output,
        };
        command.SetAction(parsed =>
        {
            var log = parsed.InvocationConfiguration.Output;
            var rules = new LoadRules
            {
                Select = parsed.GetValue(prefix),
                StripPrefixes = parsed.GetValue(strip) ?? [],
                AddPrefix = parsed.GetValue(add),
                Renames = (parsed.GetValue(rename) ?? []).Select(r => Patterns.ParseRename(r)).ToList(),
                Skip = parsed.GetValue(skip) ?? [],
                SkipPatterns = (parsed.GetValue(skipRegex) ?? []).Select(p => Patterns.Parse(p, "--skip-regex")).ToList(),
            };
            bool positional = parsed.GetValue(byPosition);
            if (!positional && (parsed.GetValue(count) is not null || parsed.GetValue(upTo) is not null))
                throw new CliUsageException("--count and --up-to only apply with --by-position");
            var options = new LoadOptions
            {
                Strict = parsed.GetValue(strict),
                Rules = rules,
                ByPosition = positional ? new PositionalPairing { Count = parsed.GetValue(count), UpToKey = parsed.GetValue(upTo) } : null,
            };

            using var net = ModelZoo.Create(parsed.GetValue(model)!, new ModelOptions
            {
                NumClasses = parsed.GetValue(classes) ?? 1000,
                InChannels = parsed.GetValue(channels) ?? 3,
            });
            using var state = StateDict.Load(parsed.GetValue(checkpoint)!, parsed.GetValue(select));
            var remapped = net.RemapCheckpointKeys(state);
            var report = net.LoadStateDict(state, options);
            if (remapped.Count > 0 && !parsed.GetValue(json)) log.WriteLine($"renamed {remapped.Count} old key spellings first ({remapped[0].From} -> {remapped[0].To}, ...)");
            if (parsed.GetValue(json)) log.WriteLine(JsonSerializer.Serialize(ToJson(report), new JsonSerializerOptions { WriteIndented = true }));
            else report.WriteTable(log, parsed.GetValue(all));

            if (parsed.GetValue(output) is { } target)
            {
                using var result = new StateDict();
                foreach (var (key, value) in net.OrderedStateDict()) result.Add(key, value.detach().clone());
                result.Save(target);
                if (!parsed.GetValue(json)) log.WriteLine($"wrote {target} ({result.Count} tensors)");
            }
            return BackbonesCli.Success;
        });
        return command;
    }

    static object ToJson(LoadReport report) => new
    {
        loaded = report.Loaded.Select(k => new { key = k, source = report.Sources.GetValueOrDefault(k, k) }),
        skipped = report.Skipped.Select(s => new { key = s.FileKey, reason = s.Reason }),
        missing = report.Missing,
        unexpected = report.Unexpected,
        mismatched = report.Mismatched.Select(m => new { key = m.Key, model_shape = m.ModelShape, file_shape = m.FileShape }),
        zeroed = report.Defaulted,
    };
}
