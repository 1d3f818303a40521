using Backbones.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Transfer;

/// <summary>What loading a state dict into a model did, key by key.</summary>
public sealed record LoadReport(
    IReadOnlyList<string> Loaded,
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> Unexpected,
    IReadOnlyList<(string Key, long[] ModelShape, long[] FileShape)> Mismatched)
{
    public bool IsComplete => Missing.Count == 0 && Unexpected.Count == 0 && Mismatched.Count == 0;

    public override string ToString() =>
        $"loaded {Loaded.Count}, missing {Missing.Count}, unexpected {Unexpected.Count}, shape-mismatched {Mismatched.Count}"
        + List("missing", Missing) + List("unexpected", Unexpected)
        + List("shape-mismatched", Mismatched.Select(m => $"{m.Key} (model [{string.Join(", ", m.ModelShape)}], file [{string.Join(", ", m.FileShape)}])").ToList());

    static string List(string what, IReadOnlyList<string> keys) =>
        keys.Count == 0 ? "" : $"\n  {what}: {string.Join(", ", keys.Take(20))}{(keys.Count > 20 ? $", ... ({keys.Count - 20} more)" : "")}";
}

/// <summary>
/// Copies a state dict's tensors into a model's parameters and buffers by name, as <c>load_state_dict</c> does,
/// and reports loaded, missing, unexpected and shape-mismatched keys. With <c>strict</c>, any of the last three
/// is an error raised before anything is copied.
/// </summary>
public static class WeightLoading
{
    public static LoadReport LoadStateDict(this nn.Module model, StateDict source, bool strict = true)
    {
        var target = model.state_dict();
        var loaded = new List<string>();
        var missing = new List<string>();
        var mismatched = new List<(string, long[], long[])>();
        foreach (var (key, tensor) in target)
        {
            if (!source.TryGetValue(key, out var value)) missing.Add(key);
            else if (!tensor.shape.SequenceEqual(value.shape)) mismatched.Add((key, tensor.shape, value.shape));
            else loaded.Add(key);
        }
        var unexpected = source.Keys.Where(k => !target.ContainsKey(k)).ToList();
        var report = new LoadReport(loaded, missing, unexpected, mismatched);
        if (strict && !report.IsComplete) throw new InvalidOperationException("state dict does not match the model: " + report);

        using (no_grad())
            foreach (var key in loaded)
                target[key].copy_(source[key]);
        return report;
    }
}
