using Backbones.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Transfer;

/// <summary>
/// Copies a state dict's tensors into a model's parameters and buffers, as <c>load_state_dict</c> does, by name or
/// by position, after optional key rules, and reports loaded, skipped, missing, unexpected and shape-mismatched keys.
/// With <c>strict</c>, any of the last three is an error raised before anything is copied. As PyTorch's BatchNorm
/// does, a <c>num_batches_tracked</c> counter absent from a checkpoint older than the counter (no <c>_metadata</c>,
/// or version below 2) is set to 0, not missing; and as torchvision's FrozenBatchNorm2d does, a checkpoint's
/// <c>num_batches_tracked</c> for a FrozenBatchNorm2d of the model (which keeps none) is skipped, not unexpected.
/// </summary>
public static class WeightLoading
{
    public static LoadReport LoadStateDict(this nn.Module model, StateDict source, bool strict = true) =>
        model.LoadStateDict(source, new LoadOptions { Strict = strict });

    public static LoadReport LoadStateDict(this nn.Module model, StateDict source, LoadOptions options)
    {
        var plan = options.Rules.Plan(source.Keys);
        var target = model.OrderedStateDict();
        var (pairs, report) = options.ByPosition is { } positional
            ? PairByPosition(target, source, plan, positional)
            : PairByName(model, target, source, plan);
        report = report with { Skipped = [.. plan.Skipped, .. report.Skipped] };
        if (options.Strict && !report.IsComplete) throw new InvalidOperationException("state dict does not match the model: " + report);

        using (no_grad())
        {
            foreach (var (tensor, fileKey) in pairs) tensor.copy_(source[fileKey]);
            var byKey = target.ToDictionary(kv => kv.Key, kv => kv.Value);
            foreach (var key in report.Defaulted) byKey[key].zero_();
        }
        return report;
    }

    static (List<(Tensor, string)>, LoadReport) PairByName(nn.Module model, IReadOnlyList<KeyValuePair<string, Tensor>> target, StateDict source, KeyPlan plan)
    {
        var fileKeyOf = plan.Mapped.ToDictionary(m => m.Name, m => m.FileKey, StringComparer.Ordinal);
        var pairs = new List<(Tensor, string)>();
        var loaded = new List<string>();
        var missing = new List<string>();
        var defaulted = new List<string>();
        var mismatched = new List<(string, long[], long[])>();
        var sources = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, tensor) in target)
        {
            if (!fileKeyOf.TryGetValue(key, out var fileKey))
            {
                if (PredatesBatchCounter(source, key)) defaulted.Add(key);
                else missing.Add(key);
                continue;
            }
            if (fileKey != key) sources[key] = fileKey;
            var value = source[fileKey];
            if (!tensor.shape.SequenceEqual(value.shape)) mismatched.Add((key, tensor.shape, value.shape));
            else
            {
                loaded.Add(key);
                pairs.Add((tensor, fileKey));
            }
        }
        var modelKeys = target.Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
        var extra = plan.Mapped.Where(m => !modelKeys.Contains(m.Name)).ToList();
        var frozen = FrozenCounters(model, extra.Select(m => m.Name));
        var unexpected = extra.Where(m => !frozen.Contains(m.Name)).Select(m => m.FileKey).ToList();
        var skipped = extra.Where(m => frozen.Contains(m.Name))
            .Select(m => (m.FileKey, "FrozenBatchNorm2d keeps no batch counter (torchvision drops it on load)")).ToList();
        return (pairs, new LoadReport(loaded, missing, unexpected, mismatched, defaulted) { Sources = sources, Skipped = skipped });
    }

    /// <summary>
    /// Pairs the i-th model entry with the i-th checkpoint entry. A checkpoint without any batch counter (older than
    /// them) is paired with the model's entries minus its counters, which are then zeroed. The first pair whose shapes
    /// disagree stops the load, named in the error: by position, a shape mismatch means the orders differ.
    /// </summary>
    static (List<(Tensor, string)>, LoadReport) PairByPosition(IReadOnlyList<KeyValuePair<string, Tensor>> target, StateDict source, KeyPlan plan, PositionalPairing positional)
    {
        var defaulted = new List<string>();
        var model = target.ToList();
        if (!plan.Mapped.Any(m => m.Name.EndsWith(BatchCounter, StringComparison.Ordinal)))
        {
            defaulted.AddRange(model.Where(kv => kv.Key.EndsWith(BatchCounter, StringComparison.Ordinal)).Select(kv => kv.Key));
            model.RemoveAll(kv => kv.Key.EndsWith(BatchCounter, StringComparison.Ordinal));
        }

        int count = Math.Min(model.Count, plan.Mapped.Count);
        if (positional.UpToKey is { } last)
        {
            int index = model.FindIndex(kv => kv.Key == last);
            if (index < 0) throw new ArgumentException($"UpToKey '{last}' is not a key of the model (first keys: {string.Join(", ", model.Take(5).Select(kv => kv.Key))})");
            count = index + 1;
        }
        if (positional.Count is { } n)
        {
            if (n < 0) throw new ArgumentOutOfRangeException(nameof(positional), "Count must not be negative");
            count = positional.UpToKey is null ? n : Math.Min(count, n);
        }
        if (count > model.Count || count > plan.Mapped.Count)
            throw new InvalidOperationException($"cannot pair {count} entries by position: the model has {model.Count} and the checkpoint {plan.Mapped.Count} (after the key rules)");

        var pairs = new List<(Tensor, string)>();
        var loaded = new List<string>();
        var sources = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            var (key, tensor) = model[i];
            string fileKey = plan.Mapped[i].FileKey;
            var value = source[fileKey];
            if (!tensor.shape.SequenceEqual(value.shape))
                throw new InvalidOperationException(
                    $"pair {i} disagrees in shape: model '{key}' [{string.Join(", ", tensor.shape)}] and checkpoint '{fileKey}' [{string.Join(", ", value.shape)}]; the two orders differ here");
            loaded.Add(key);
            pairs.Add((tensor, fileKey));
            if (key != fileKey) sources[key] = fileKey;
        }
        var missing = model.Skip(count).Select(kv => kv.Key).ToList();
        var unexpected = plan.Mapped.Skip(count).Select(m => m.FileKey).ToList();
        return (pairs, new LoadReport(loaded, missing, unexpected, [], defaulted) { Sources = sources });
    }

    const string BatchCounter = ".num_batches_tracked";

    /// <summary>Of <paramref name="names"/> (not in the model), the batch counters of the model's FrozenBatchNorm2d layers.</summary>
    static HashSet<string> FrozenCounters(nn.Module model, IEnumerable<string> names)
    {
        const string counter = "num_batches_tracked";
        var counters = names.Where(k => k == counter || k.EndsWith(BatchCounter, StringComparison.Ordinal)).ToList();
        if (counters.Count == 0) return [];
        var frozen = model.named_modules().Where(m => m.module is Detection.FrozenBatchNorm2d).Select(m => m.name).ToHashSet(StringComparer.Ordinal);
        if (model is Detection.FrozenBatchNorm2d) frozen.Add("");
        return counters.Where(k => frozen.Contains(k[..^counter.Length].TrimEnd('.'))).ToHashSet(StringComparer.Ordinal);
    }

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
