using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision.ops.MultiScaleRoIAlign: pools each box from the pyramid level its size maps to (FPN paper, eq. 1),
/// with the levels' scales inferred from feature and image sizes. Holds no parameters; the R-CNN heads own one each.
/// </summary>
public sealed class MultiScaleRoiAlign : nn.Module<IReadOnlyDictionary<string, Tensor>, IReadOnlyList<Tensor>, IReadOnlyList<(int Height, int Width)>, Tensor>
{
    public IReadOnlyList<string> FeatmapNames { get; }
    public (int Height, int Width) OutputSize { get; }
    public int SamplingRatio { get; }
    public int CanonicalScale { get; }
    public int CanonicalLevel { get; }

    public MultiScaleRoiAlign(IReadOnlyList<string> featmapNames, (int Height, int Width) outputSize, int samplingRatio,
        int canonicalScale = 224, int canonicalLevel = 4) : base("MultiScaleRoIAlign")
    {
        if (featmapNames.Count == 0) throw new ArgumentException("MultiScaleRoiAlign: no feature map names given", nameof(featmapNames));
        FeatmapNames = featmapNames.ToArray();
        OutputSize = outputSize;
        SamplingRatio = samplingRatio;
        CanonicalScale = canonicalScale;
        CanonicalLevel = canonicalLevel;
    }

    public MultiScaleRoiAlign(IReadOnlyList<string> featmapNames, int outputSize, int samplingRatio)
        : this(featmapNames, (outputSize, outputSize), samplingRatio) { }

    /// <summary>
    /// Pools <paramref name="boxes"/> (per image, [L, 4] in the coordinates of the batched images) from the named maps of
    /// <paramref name="features"/>, taken in the dictionary's order as torchvision filters its OrderedDict;
    /// <paramref name="imageShapes"/> are the images' sizes before the backbone. Returns [K, C, height, width], the
    /// boxes of all images in order. Scales are worked out on every call (torchvision keeps those of its first call;
    /// for images batched to a multiple of the largest stride both give the same).
    /// </summary>
    public override Tensor forward(IReadOnlyDictionary<string, Tensor> features, IReadOnlyList<Tensor> boxes, IReadOnlyList<(int Height, int Width)> imageShapes)
    {
        var missing = FeatmapNames.Where(n => !features.ContainsKey(n)).ToList();
        if (missing.Count > 0)
            throw new ArgumentException($"MultiScaleRoiAlign: no feature map named {string.Join(", ", missing.Select(n => $"'{n}'"))} among [{string.Join(", ", features.Keys.Select(k => $"'{k}'"))}]", nameof(features));
        var maps = features.Where(kv => FeatmapNames.Contains(kv.Key)).Select(kv => kv.Value).ToList();
        var (scales, kMin, kMax) = InferScales(maps.Select(m => (m.shape[^2], m.shape[^1])).ToList(), imageShapes);

        using var scope = NewDisposeScope();
        var rois = RoiAlign.ToRoiFormat(boxes);
        if (maps.Count == 1)
            return RoiAlign.Apply(maps[0], rois, OutputSize, scales[0], SamplingRatio).MoveToOuterDisposeScope();

        var levels = MapLevels(boxes, kMin, kMax, CanonicalScale, CanonicalLevel);
        var order = new List<Tensor>();
        var pooled = new List<Tensor>();
        for (int level = 0; level < maps.Count; level++)
        {
            var members = levels.eq(level).nonzero().view(-1);
            order.Add(members);
            pooled.Add(RoiAlign.Apply(maps[level], rois.index_select(0, members), OutputSize, scales[level], SamplingRatio));
        }
        // Every box maps to exactly one level: putting the levels' outputs back in box order is a permutation.
        var inverse = cat(order, 0).argsort();
        return cat(pooled, 0).index_select(0, inverse).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// torchvision's _setup_scales: each map's scale is the power of two nearest its height over the tallest image's,
    /// and the first and last scales give the pyramid's level range (k_min, k_max).
    /// </summary>
    public static (double[] Scales, int KMin, int KMax) InferScales(IReadOnlyList<(long Height, long Width)> featureSizes, IReadOnlyList<(int Height, int Width)> imageShapes)
    {
        if (imageShapes.Count == 0) throw new ArgumentException("MultiScaleRoiAlign: the list of image shapes is empty", nameof(imageShapes));
        if (featureSizes.Count == 0) throw new ArgumentException("MultiScaleRoiAlign: no feature maps to pool from", nameof(featureSizes));
        int tallest = imageShapes.Max(s => s.Height);
        // torchvision takes log2 of the ratio as a float32 tensor and rounds half to even.
        var scales = featureSizes.Select(f => Math.Pow(2, Math.Round(Math.Log2((float)((double)f.Height / tallest)), MidpointRounding.ToEven))).ToArray();
        return (scales, (int)-Math.Log2((float)scales[0]), (int)-Math.Log2((float)scales[^1]));
    }

    /// <summary>
    /// torchvision's LevelMapper: level floor(k0 + log2(sqrt(area) / s0) + eps) clamped to [kMin, kMax], returned as
    /// int64 offsets from kMin, for the boxes of all images in order.
    /// </summary>
    public static Tensor MapLevels(IReadOnlyList<Tensor> boxes, int kMin, int kMax, int canonicalScale = 224, int canonicalLevel = 4, double eps = 1e-6)
    {
        using var scope = NewDisposeScope();
        var size = cat(boxes.Select(BoxOps.Area).ToList(), 0).sqrt();
        var target = (log2(size / canonicalScale) + canonicalLevel + tensor(eps, size.dtype, size.device)).floor();
        return (target.clamp(kMin, kMax).to(ScalarType.Int64) - kMin).MoveToOuterDisposeScope();
    }

    public override string ToString() =>
        $"MultiScaleRoIAlign(featmap_names=[{string.Join(", ", FeatmapNames.Select(n => $"'{n}'"))}], output_size=({OutputSize.Height}, {OutputSize.Width}), sampling_ratio={SamplingRatio})";
}
