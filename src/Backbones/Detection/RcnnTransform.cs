using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision's <c>GeneralizedRCNNTransform</c>: normalises each image, resizes it (bilinear) so its shorter side is
/// the min size unless the longer would pass the max size, batches to multiples of 32, and maps targets along and results back.
/// </summary>
/// <remarks>
/// Targets and results are dictionaries with torchvision's keys: <c>boxes</c> (N×4, x1 y1 x2 y2) and <c>keypoints</c>
/// (N×K×3, x y visibility) are rescaled, <c>masks</c> (N×H×W, targets only) resized by nearest neighbour, the rest
/// passed through. The scale is computed in float32 exactly as torchvision does (<c>reciprocal(side) * size</c>, the
/// smaller of the two), and the output size is <c>floor(side * scale)</c> (interpolate's recompute_scale_factor=True).
/// In training mode each image's min size is drawn as torchvision's <c>torch_choice</c> does:
/// <c>MinSize[(int)U[0, n)]</c> from one float32 <c>uniform_</c>, on the transform's own generator when seeded.
/// The resize is libtorch's own bilinear kernel: torch 1.13's computed its source indices in double, today's in float32,
/// which moves normalised pixels of a ×13 upsampling by up to 3e-5 (relative L2 3e-6) between the two.
/// </remarks>
public sealed class RcnnTransform
    : nn.Module<IReadOnlyList<Tensor>, IReadOnlyList<IReadOnlyDictionary<string, Tensor>>?, (ImageList Images, IReadOnlyList<Dictionary<string, Tensor>>? Targets)>
{
    readonly Generator? _generator;
    static readonly string[] Rescaled = ["boxes", "keypoints", "masks"];

    public RcnnTransform(RcnnTransformOptions? options = null) : base(nameof(RcnnTransform))
    {
        Options = options ??= new RcnnTransformOptions();
        if (options.MinSize.Count == 0 || options.MinSize.Any(s => s <= 0))
            throw new ArgumentException($"MinSize needs one or more positive sizes, got [{string.Join(", ", options.MinSize)}]", nameof(options));
        if (options.MaxSize <= 0) throw new ArgumentOutOfRangeException(nameof(options), options.MaxSize, "MaxSize must be positive");
        if (options.SizeDivisible <= 0) throw new ArgumentOutOfRangeException(nameof(options), options.SizeDivisible, "SizeDivisible must be positive");
        if (options.ImageMean.Count != options.ImageStd.Count)
            throw new ArgumentException($"ImageMean has {options.ImageMean.Count} channels, ImageStd {options.ImageStd.Count}", nameof(options));
        if (options.Seed is { } seed) _generator = new Generator((ulong)seed);
        RegisterComponents();
    }

    public RcnnTransformOptions Options { get; }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _generator?.Dispose();
        base.Dispose(disposing);
    }

    /// <param name="images">C×H×W floating-point images in [0, 1], of any sizes.</param>
    /// <param name="targets">Per image, its ground truth (boxes in that image's pixels), or null at inference.</param>
    public override (ImageList Images, IReadOnlyList<Dictionary<string, Tensor>>? Targets) forward(
        IReadOnlyList<Tensor> images, IReadOnlyList<IReadOnlyDictionary<string, Tensor>>? targets)
    {
        if (images.Count == 0) throw new ArgumentException("RcnnTransform needs at least one image", nameof(images));
        if (targets is not null && targets.Count != images.Count)
            throw new ArgumentException($"{images.Count} images but {targets.Count} targets", nameof(targets));
        using var scope = NewDisposeScope();
        var resized = new List<Tensor>();
        var newTargets = targets is null ? null : new List<Dictionary<string, Tensor>>();
        for (int i = 0; i < images.Count; i++)
        {
            var image = images[i];
            if (image.dim() != 3)
                throw new ArgumentException($"image {i} must be C×H×W, got [{string.Join(", ", image.shape)}]", nameof(images));
            if (!image.is_floating_point())
                throw new ArgumentException($"image {i} must be floating point in [0, 1], got {image.dtype}", nameof(images));
            if (image.shape[0] != Options.ImageMean.Count)
                throw new ArgumentException($"image {i} has {image.shape[0]} channels, the mean and std {Options.ImageMean.Count}", nameof(images));
            var (image2, target) = Resize(Normalize(image), targets?[i], i);
            resized.Add(image2);
            if (target is not null) newTargets!.Add(target);
        }
        var sizes = resized.Select(r => (r.shape[1], r.shape[2])).ToList();
        var batch = BatchImages(resized);
        // Only the rescaled entries are this scope's; the others are the caller's tensors, passed through.
        if (newTargets is not null)
            foreach (var target in newTargets)
                foreach (string key in Rescaled)
                    if (target.TryGetValue(key, out var value)) value.MoveToOuterDisposeScope();
        return (new ImageList(batch.MoveToOuterDisposeScope(), sizes), newTargets);
    }

    /// <summary>
    /// torchvision's <c>postprocess</c>: in evaluation, maps each result's <c>boxes</c> and <c>keypoints</c> from the
    /// batch's image sizes back to the original ones; in training, returns the results as they are.
    /// </summary>
    public IReadOnlyList<Dictionary<string, Tensor>> Postprocess(IReadOnlyList<IReadOnlyDictionary<string, Tensor>> results,
        IReadOnlyList<(long Height, long Width)> imageSizes, IReadOnlyList<(long Height, long Width)> originalSizes)
    {
        if (results.Count != imageSizes.Count || results.Count != originalSizes.Count)
            throw new ArgumentException($"{results.Count} results, {imageSizes.Count} image sizes and {originalSizes.Count} original sizes must agree");
        var output = results.Select(r => new Dictionary<string, Tensor>(r, StringComparer.Ordinal)).ToList();
        if (training) return output;
        for (int i = 0; i < output.Count; i++)
        {
            if (output[i].ContainsKey("masks")) throw new NotSupportedException($"result {i} has masks: pasting masks into the image (Mask R-CNN) is not implemented");
            if (output[i].TryGetValue("boxes", out var boxes)) output[i]["boxes"] = ResizeBoxes(boxes, imageSizes[i], originalSizes[i]);
            if (output[i].TryGetValue("keypoints", out var keypoints)) output[i]["keypoints"] = ResizeKeypoints(keypoints, imageSizes[i], originalSizes[i]);
        }
        return output;
    }

    /// <summary>Boxes (N×4, x1 y1 x2 y2) from an image of <paramref name="from"/> to one of <paramref name="to"/>, in float32 as torchvision.</summary>
    public static Tensor ResizeBoxes(Tensor boxes, (long Height, long Width) from, (long Height, long Width) to)
    {
        if (boxes.dim() != 2 || boxes.shape[1] != 4) throw new ArgumentException($"boxes must be N×4, got [{string.Join(", ", boxes.shape)}]", nameof(boxes));
        using var scope = NewDisposeScope();
        var (ratioH, ratioW) = Ratios(from, to, boxes.device);
        var xy = boxes.unbind(1);
        return stack([xy[0] * ratioW, xy[1] * ratioH, xy[2] * ratioW, xy[3] * ratioH], 1).MoveToOuterDisposeScope();
    }

    /// <summary>Keypoints (N×K×3, x y visibility) from an image of <paramref name="from"/> to one of <paramref name="to"/>.</summary>
    public static Tensor ResizeKeypoints(Tensor keypoints, (long Height, long Width) from, (long Height, long Width) to)
    {
        if (keypoints.dim() < 2 || keypoints.shape[^1] < 2)
            throw new ArgumentException($"keypoints must be N×K×3 (x, y, visibility), got [{string.Join(", ", keypoints.shape)}]", nameof(keypoints));
        using var scope = NewDisposeScope();
        var (ratioH, ratioW) = Ratios(from, to, keypoints.device);
        var resized = keypoints.clone();
        resized[TensorIndex.Ellipsis, 0].mul_(ratioW);
        resized[TensorIndex.Ellipsis, 1].mul_(ratioH);
        return resized.MoveToOuterDisposeScope();
    }

    // torchvision: torch.tensor(new, float32) / torch.tensor(old, float32), as 0-dim tensors.
    static (Tensor H, Tensor W) Ratios((long Height, long Width) from, (long Height, long Width) to, Device device) =>
        (tensor((float)to.Height, float32, device) / tensor((float)from.Height, float32, device),
         tensor((float)to.Width, float32, device) / tensor((float)from.Width, float32, device));

    Tensor Normalize(Tensor image)
    {
        var mean = tensor(Options.ImageMean.ToArray(), image.dtype, image.device);
        var std = tensor(Options.ImageStd.ToArray(), image.dtype, image.device);
        return (image - mean[.., TensorIndex.None, TensorIndex.None]) / std[.., TensorIndex.None, TensorIndex.None];
    }

    int DrawMinSize()
    {
        using var u = empty(1).uniform_(0.0, Options.MinSize.Count, _generator);
        return Options.MinSize[Math.Min((int)u.item<float>(), Options.MinSize.Count - 1)];
    }

    (Tensor Image, Dictionary<string, Tensor>? Target) Resize(Tensor image, IReadOnlyDictionary<string, Tensor>? target, int index)
    {
        long h = image.shape[1], w = image.shape[2];
        float size = training ? DrawMinSize() : Options.MinSize[^1];
        // float32 as torchvision's tensors: `self_min_size / min_size` is Tensor.__rdiv__, reciprocal() * size.
        float scale = Math.Min(1f / Math.Min(h, w) * size, 1f / Math.Max(h, w) * Options.MaxSize);
        long[] outSize = [(long)Math.Floor(h * (double)scale), (long)Math.Floor(w * (double)scale)];
        var resized = nn.functional.interpolate(image.unsqueeze(0), size: outSize, mode: InterpolationMode.Bilinear, align_corners: false)[0];
        if (target is null) return (resized, null);

        if (!target.TryGetValue("boxes", out var boxes)) throw new ArgumentException($"target {index} has no 'boxes' (keys: {string.Join(", ", target.Keys)})");
        var result = new Dictionary<string, Tensor>(target, StringComparer.Ordinal)
        {
            ["boxes"] = ResizeBoxes(boxes, (h, w), (outSize[0], outSize[1])),
        };
        if (target.TryGetValue("keypoints", out var keypoints)) result["keypoints"] = ResizeKeypoints(keypoints, (h, w), (outSize[0], outSize[1]));
        if (target.TryGetValue("masks", out var masks))
            result["masks"] = nn.functional.interpolate(masks.unsqueeze(1).to_type(float32), size: outSize, mode: InterpolationMode.Nearest)
                .select(1, 0).to_type(ScalarType.Byte);
        return (resized, result);
    }

    Tensor BatchImages(List<Tensor> images)
    {
        long channels = images.Max(i => i.shape[0]);
        double stride = Options.SizeDivisible;
        long height = (long)(Math.Ceiling(images.Max(i => i.shape[1]) / stride) * stride);
        long width = (long)(Math.Ceiling(images.Max(i => i.shape[2]) / stride) * stride);
        var batch = zeros([images.Count, channels, height, width], images[0].dtype, images[0].device);
        for (int i = 0; i < images.Count; i++)
        {
            var img = images[i];
            batch[i, TensorIndex.Slice(0, img.shape[0]), TensorIndex.Slice(0, img.shape[1]), TensorIndex.Slice(0, img.shape[2])].copy_(img);
        }
        return batch;
    }
}
