using Backbones.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Transfer;

/// <summary>What loading a state dict into a model did, key by key.</summary>
public sealed record LoadReport(
    IReadOnlyList<string> Loaded,
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> Unexpected,
    IReadOnlyList<(string Key, long[] ModelShape, long[] FileShape)> Mismatched,
    IReadOnlyList<string> Defaulted)
{
    public bool IsComplete => Missing.Count == 0 && Unexpected.Count == 0 && Mismatched.Count == 0;

    public override string ToString() =>
        $"loaded {Loaded.Count}, missing {Missing.Count}, unexpected {Unexpected.Count}, shape-mismatched {Mismatched.Count}"
        + (Defaulted.Count > 0 ? $", {Defaulted.Count} BatchNorm batch counters absent from an old checkpoint set to 0" : "")
        + List("missing", Missing) + List("unexpected", Unexpected)
        + List("shape-mismatched", Mismatched.Select(m => $"{m.Key} (model [{string.Join(", ", m.ModelShape)}], file [{string.Join(", ", m.FileShape)}])").ToList());

    static string List(string what, IReadOnlyList<string> keys) =>
        keys.Count == 0 ? "" : $"\n  {what}: {string.Join(", ", keys.Take(20))}{(keys.Count > 20 ? $", ... ({keys.Count - 20} more)" : "")}";
}

/// <summary>
/// Copies a state dict's tensors into a model's parameters and buffers by name, as <c>load_state_dict</c> does,
/// and reports loaded, missing, unexpected and shape-mismatched keys. With <c>strict</c>, any of the last three
/// is an error raised before anything is copied. As PyTorch's BatchNorm does, a <c>num_batches_tracked</c> counter
/// absent from a checkpoint older than the counter (no <c>_metadata</c>, or version below 2) is set to 0, not missing.
/// </summary>
public static class WeightLoading
{
    public static LoadReport LoadStateDict(this nn.Module model, StateDict source, bool strict = true)
    {
        var target = model.state_dict();
        var loaded = new List<string>();
        var missing = new List<string>();
        var defaulted = new List<string>();
        var mismatched = new List<(string, long[], long[])>();
        foreach (var (key, tensor) in target)
        {
            if (!source.TryGetValue(key, out var value))
            {
                if (PredatesBatchCounter(source, key)) defaulted.Add(key);
                else missing.Add(key);
            }
            else if (!tensor.shape.SequenceEqual(value.shape)) mismatched.Add((key, tensor.shape, value.shape));
            else loaded.Add(key);
        }
        var unexpected = source.Keys.Where(k => !target.ContainsKey(k)).ToList();
        var report = new LoadReport(loaded, missing, unexpected, mismatched, defaulted);
        if (strict && !report.IsComplete) throw new InvalidOperationException("state dict does not match the model: " + report);

        using (no_grad())
        {
            foreach (var key in loaded) target[key].copy_(source[key]);
            foreach (var key in defaulted) target[key].zero_();
        }
        return report;
    }

    const string BatchCounter = ".num_batches_tracked";

    /// <summary>BatchNorm's rule: the counter arrived with module version 2; older checkpoints lack it.</summary>
    static bool PredatesBatchCounter(StateDict source, string key)
    {
        if (!key.EndsWith(BatchCounter, StringComparison.Ordinal)) return false;
        if (source.Metadata is null) return true;
        string module = key[..^BatchCounter.Length];
        return !source.Metadata.TryGetValue(module, out var entry) || entry is not Serialization.Pickle.PyDict m
            || !m.TryGetValue("version", out var version) || version is not long v || v < 2;
    }
}
