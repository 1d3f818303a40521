using System.CommandLine;
using System.Text.Json;
using Backbones.Inspection;
using Backbones.Models;
using Backbones.Serialization;
using Backbones.Transfer;
using static TorchSharp.torch;

namespace Backbones.Cli;

/// <summary>
/// <c>backbones diff A B [--json]</c>: compares two checkpoints, or a checkpoint and a model of the zoo
/// (<c>resnet50</c>, or <c>resnet50@IMAGENET1K_V2</c> with its weights): keys only in either, shape or dtype
/// mismatches, and the largest absolute difference of every common key. Exit code 0 when identical, 1 when not.
/// </summary>
internal static class DiffCommand
{
    public static Command Create()
    {
        var a = new Argument<string>("a") { Description = "A checkpoint file (.pth, .safetensors) or a model name, optionally NAME@WEIGHTS" };
        var b = new Argument<string>("b") { Description = "The same, compared with A" };
        var select = new Option<string?>("--select") { Description = "Dotted path of the state dict inside wrapped checkpoints (e.g. state_dict)" };
        var json = new Option<bool>("--json") { Description = "Print the comparison as one JSON document" };
        var command = new Command("diff", "Compare two checkpoints, or a checkpoint and a model, key by key") { a, b, select, json };
        command.SetAction(parsed =>
        {
            string? path = parsed.GetValue(select);
            using var left = Open(parsed.GetValue(a)!, path);
            using var right = Open(parsed.GetValue(b)!, path);
            var diff = StateDictDiff.Compare(left.Name, left.Entries, right.Name, right.Entries);
            var output = parsed.InvocationConfiguration.Output;
            if (parsed.GetValue(json)) output.WriteLine(JsonSerializer.Serialize(diff.ToJson(), new JsonSerializerOptions { WriteIndented = true }));
            else diff.WriteText(output);
            return diff.Identical ? BackbonesCli.Success : BackbonesCli.Failure;
        });
        return command;
    }

    /// <summary>A file when one exists at <paramref name="source"/>, else a zoo model built with the weights after '@'.</summary>
    static Side Open(string source, string? select)
    {
        if (File.Exists(source))
        {
            var state = StateDict.Load(source, select);
            return new Side(Path.GetFullPath(source), state.ToList(), state);
        }
        int at = source.IndexOf('@');
        string name = at < 0 ? source : source[..at];
        if (!ModelZoo.List().Contains(name))
            throw new CliUsageException($"'{source}' is neither a file nor a model name (see backbones models)");
        var model = ModelZoo.Create(name, new ModelOptions { Weights = at < 0 ? null : source[(at + 1)..] });
        return new Side(at < 0 ? $"{name} (fresh initialisation)" : source, model.OrderedStateDict(), model);
    }

    sealed record Side(string Name, IReadOnlyList<KeyValuePair<string, Tensor>> Entries, IDisposable Owner) : IDisposable
    {
        public void Dispose() => Owner.Dispose();
    }
}
