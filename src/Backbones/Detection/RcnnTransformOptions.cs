namespace Backbones.Detection;

/// <summary>
/// How <see cref="RcnnTransform"/> resizes, normalises and batches images; defaults are torchvision's
/// GeneralizedRCNNTransform as Faster R-CNN builds it, <see cref="KeypointRcnn"/> as Keypoint R-CNN does.
/// </summary>
public sealed record RcnnTransformOptions
{
    /// <summary>
    /// Target sizes of the shorter side. Training draws one per image, uniformly (see <see cref="Seed"/>); evaluation
    /// uses the last, as torchvision does.
    /// </summary>
    public IReadOnlyList<int> MinSize { get; init; } = [800];

    /// <summary>Cap on the longer side after resizing.</summary>
    public int MaxSize { get; init; } = 1333;

    /// <summary>Per-channel mean subtracted from images in [0, 1] (ImageNet's).</summary>
    public IReadOnlyList<double> ImageMean { get; init; } = [0.485, 0.456, 0.406];

    /// <summary>Per-channel standard deviation images are divided by (ImageNet's).</summary>
    public IReadOnlyList<double> ImageStd { get; init; } = [0.229, 0.224, 0.225];

    /// <summary>The batch's height and width are padded up to multiples of this.</summary>
    public int SizeDivisible { get; init; } = 32;

    /// <summary>
    /// Seeds the training-time draw of <see cref="MinSize"/> with a generator of the transform's own; null draws from
    /// torch's global generator, as torchvision does (then <c>torch.manual_seed</c> makes it repeatable).
    /// </summary>
    public long? Seed { get; init; }

    /// <summary>Keypoint R-CNN's: shorter side drawn from 640, 672, ..., 800 in training, 800 in evaluation, longer side at most 1333.</summary>
    public static RcnnTransformOptions KeypointRcnn { get; } = new() { MinSize = [640, 672, 704, 736, 768, 800] };
}
