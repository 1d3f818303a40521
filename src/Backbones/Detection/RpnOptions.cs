namespace Backbones.Detection;

/// <summary>
/// How <see cref="RegionProposalNetwork"/> trains and filters proposals; defaults are torchvision 0.14's for Keypoint
/// (and Faster) R-CNN: 2000 boxes per level before NMS and 2000 after in training, 1000 and 1000 in evaluation.
/// </summary>
public sealed record RpnOptions
{
    /// <summary>Highest-scoring boxes kept per feature level before NMS, in training.</summary>
    public int PreNmsTopNTrain { get; init; } = 2000;

    /// <summary>Highest-scoring boxes kept per feature level before NMS, in evaluation.</summary>
    public int PreNmsTopNTest { get; init; } = 1000;

    /// <summary>Proposals kept per image after NMS, in training.</summary>
    public int PostNmsTopNTrain { get; init; } = 2000;

    /// <summary>Proposals kept per image after NMS, in evaluation.</summary>
    public int PostNmsTopNTest { get; init; } = 1000;

    /// <summary>IoU above which NMS drops the lower-scoring box (within one feature level).</summary>
    public double NmsThresh { get; init; } = 0.7;

    /// <summary>An anchor with IoU ≥ this against a ground-truth box is positive in training.</summary>
    public double FgIouThresh { get; init; } = 0.7;

    /// <summary>An anchor whose best IoU is below this is negative; between the two it is ignored.</summary>
    public double BgIouThresh { get; init; } = 0.3;

    /// <summary>Anchors sampled per image for the losses.</summary>
    public int BatchSizePerImage { get; init; } = 256;

    /// <summary>Largest share of positives among the sampled anchors.</summary>
    public double PositiveFraction { get; init; } = 0.5;

    /// <summary>Proposals whose objectness probability is below this are dropped (torchvision keeps ≥).</summary>
    public double ScoreThresh { get; init; } = 0.0;

    /// <summary>Proposals narrower or lower than this (in pixels) after clipping are dropped (torchvision's fixed 1e-3).</summary>
    public double MinSize { get; init; } = 1e-3;

    public static RpnOptions Default { get; } = new();

    internal void Validate()
    {
        void Positive(int value, string name)
        {
            if (value <= 0) throw new ArgumentOutOfRangeException(name, value, $"RpnOptions.{name} must be positive");
        }
        Positive(PreNmsTopNTrain, nameof(PreNmsTopNTrain));
        Positive(PreNmsTopNTest, nameof(PreNmsTopNTest));
        Positive(PostNmsTopNTrain, nameof(PostNmsTopNTrain));
        Positive(PostNmsTopNTest, nameof(PostNmsTopNTest));
        if (BgIouThresh > FgIouThresh)
            throw new ArgumentOutOfRangeException(nameof(BgIouThresh), BgIouThresh, $"RpnOptions.BgIouThresh {BgIouThresh} is above FgIouThresh {FgIouThresh}");
    }
}
