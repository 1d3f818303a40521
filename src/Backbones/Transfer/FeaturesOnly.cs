using Backbones.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Transfer;

/// <summary>
/// timm's <c>features_only</c> for every family: the feature maps of the levels chosen by <c>outIndices</c>, shallow to deep,
/// from one forward that stops at the deepest, with each level's module, channels and stride in <see cref="FeatureInfo"/>.
/// </summary>
/// <remarks>
/// The levels (<see cref="Levels"/>) are the backbone's <see cref="Backbone.FeatureInfo"/>, preceded, as in timm, by the
/// stem's activation where the stem reduces less than the first stage: ResNet's <c>relu</c> (timm's act1) and DenseNet's
/// <c>features.relu0</c> (timm's norm0) at stride 2, SqueezeNet's <c>features.1</c> at 2 and AlexNet's at 4. So
/// <c>outIndices: [1, 2, 3, 4]</c> selects ResNet's <c>layer1</c>…<c>layer4</c>, as in timm. Negative indices count from the end.
/// State-dict keys are those of the model's top-level children up to the one holding the deepest selected level (no head).
/// It wraps the model and owns it.
/// </remarks>
public sealed class FeaturesOnly : ModelView<Tensor[]>
{
    readonly FeatureExtractor _extractor;

    FeaturesOnly(FeatureExtractor extractor, IReadOnlyList<int> outIndices, IReadOnlyList<FeatureInfo> info) : base(nameof(FeaturesOnly), extractor)
    {
        _extractor = extractor;
        OutIndices = outIndices;
        FeatureInfo = info;
        foreach (var (name, child) in extractor.named_children()) register_module(name, child);
    }

    /// <summary>Every feature level of <paramref name="model"/>, shallow to deep; <c>outIndices</c> index this list.</summary>
    public static IReadOnlyList<FeatureInfo> Levels(Backbone model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var stages = model.FeatureInfo;
        if (StemActivation(model) is not { } stem) return stages;
        var firstConv = (Conv2d)model.named_modules().First(m => m.name == model.FirstConvPath).module;
        long stride = firstConv.stride[0];
        return stride < stages[0].Reduction ? [new FeatureInfo(stem, firstConv.out_channels, stride), .. stages] : stages;
    }

    /// <summary>
    /// The levels at <paramref name="outIndices"/> of <see cref="Levels"/> (all of them when null), in increasing order.
    /// </summary>
    public static FeaturesOnly Create(Backbone model, IReadOnlyList<int>? outIndices = null)
    {
        var levels = Levels(model);
        string name = ModulePaths.NameOf(model);
        outIndices ??= Enumerable.Range(0, levels.Count).ToList();
        if (outIndices.Count == 0) throw new ArgumentException($"no out_indices given for {name}", nameof(outIndices));
        var indices = new List<int>();
        foreach (int i in outIndices)
        {
            int index = i < 0 ? i + levels.Count : i;
            if (index < 0 || index >= levels.Count)
                throw new ArgumentOutOfRangeException(nameof(outIndices), $"out_indices {i} is outside the {levels.Count} feature levels of {name}: {Describe(levels)}");
            if (indices.Count > 0 && index <= indices[^1])
                throw new ArgumentException($"out_indices must be increasing; got [{string.Join(", ", outIndices)}] for {name}", nameof(outIndices));
            indices.Add(index);
        }
        var info = indices.Select(i => levels[i]).ToList();
        return new FeaturesOnly(FeatureExtractor.Create(model, info.Select(f => f.Module)), indices, info);
    }

    /// <summary>The selected levels' indices into <see cref="Levels"/>.</summary>
    public IReadOnlyList<int> OutIndices { get; }

    /// <summary>Module, channels and stride of each returned map, in the order they come.</summary>
    public IReadOnlyList<FeatureInfo> FeatureInfo { get; }

    public override Tensor[] forward(Tensor x)
    {
        var maps = _extractor.call(x);
        return FeatureInfo.Select(f => maps[f.Module]).ToArray();
    }


    public override string ToString() =>
        $"{ModulePaths.NameOf(_extractor.Model)} features at out_indices [{string.Join(", ", OutIndices)}]: {Describe(FeatureInfo)}";

    static string Describe(IEnumerable<FeatureInfo> levels) =>
        string.Join(", ", levels.Select(f => $"{f.Module} ({f.Channels} channels, stride {f.Reduction})"));

    /// <summary>The module after the stem's convolution and normalisation where timm's feature levels start (act1, norm0).</summary>
    static string? StemActivation(Backbone model) => model switch
    {
        ResNet => "relu",
        DenseNet => "features.relu0",
        AlexNet or SqueezeNet => "features.1",
        // VGG's first level is its first pool (stride 2); MobileNet's and EfficientNet's first block is at the stem's
        // stride 2, ConvNeXt's first stage at its stem's 4.
        _ => null,
    };
}
