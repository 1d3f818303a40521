using Backbones.Models;
using Backbones.Serialization;
using Backbones.Weights;

namespace Backbones.Transfer;

/// <summary>What loading pretrained weights into a zoo model did: the file, the per-key report, and whether the head was left fresh.</summary>
public sealed record WeightsLoadResult(string File, WeightsInfo? Catalogue, LoadReport Report, bool HeadReplaced, IReadOnlyList<(string From, string To)> Remapped)
{
    public override string ToString() =>
        $"{File}: {Report.Loaded.Count} tensors loaded"
        + (HeadReplaced ? "; the classifier's shape differs from the file's, so it was left freshly initialised (its keys were skipped)" : "")
        + (Remapped.Count > 0 ? $"; {Remapped.Count} old key spellings renamed" : "")
        + (InputAdapted is not null ? $"; first convolution adapted: {InputAdapted}" : "");

    /// <summary>The first convolution's RGB weights adapted to the model's input channels (<see cref="ModelOptions.InChannels"/>), if they were.</summary>
    public InputChannelsReport? InputAdapted { get; init; }
}

/// <summary>
/// Loads catalogue weights (from torch hub's cache, downloading when missing) or a checkpoint file into a zoo model,
/// applying the family's old-key remaps; when the model's classifier differs in size from the file's (a new number
/// of classes), everything but the head is loaded and the result says so; when it has other input channels than the
/// file's RGB first convolution (<see cref="ModelOptions.InChannels"/>), those weights are adapted by timm's rule
/// (<see cref="InputChannels"/>). Anything else that does not match is an error.
/// </summary>
public static class PretrainedWeights
{
    public static WeightsLoadResult Load(Backbone model, string weights, DownloadOptions? download = null)
    {
        var info = WeightsCatalogue.Find(model.Architecture, weights);
        string path;
        if (info is not null) path = WeightsDownloader.Ensure(info, download);
        else if (File.Exists(weights)) path = weights;
        else
        {
            var known = WeightsCatalogue.For(model.Architecture).Select(w => w.Name);
            throw new ArgumentException($"'{weights}' is neither a weights set of {model.Architecture} ({string.Join(", ", known.Prepend("DEFAULT"))}) nor an existing file");
        }

        using var state = StateDict.Load(path);
        var remapped = model.RemapCheckpointKeys(state);
        string head = model.ClassifierPath + ".";
        var ours = model.OrderedStateDict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        string firstConv = model.FirstConvPath + ".weight";
        InputChannelsReport? adapted = null;
        if (state.TryGetValue(firstConv, out var stem) && ours.TryGetValue(firstConv, out var stemShape) && stem.dim() == 4 && stemShape.Length == 4
            && stem.shape[1] != stemShape[1])
            adapted = state.AdaptInputChannels(firstConv, stemShape[1]);
        bool headDiffers = state.Where(kv => kv.Key.StartsWith(head, StringComparison.Ordinal))
            .Any(kv => ours.TryGetValue(kv.Key, out var shape) && !shape.SequenceEqual(kv.Value.shape));
        if (headDiffers) state.Drop(k => k.StartsWith(head, StringComparison.Ordinal));

        var report = model.LoadStateDict(state, strict: false);
        bool onlyHeadMissing = report.Missing.All(k => headDiffers && k.StartsWith(head, StringComparison.Ordinal));
        if (!onlyHeadMissing || report.Unexpected.Count > 0 || report.Mismatched.Count > 0)
            throw new InvalidOperationException($"{path} does not fit {model.Architecture}: {report}");
        return new WeightsLoadResult(path, info, report, headDiffers, remapped) { InputAdapted = adapted };
    }
}
