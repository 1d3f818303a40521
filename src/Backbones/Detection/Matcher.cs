using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision's Matcher: gives each prediction the ground-truth element it overlaps most when the quality reaches
/// the high threshold, -2 between the thresholds, -1 below; optionally keeps each ground truth's best predictions.
/// </summary>
public sealed class Matcher
{
    public const long BelowLowThreshold = -1;
    public const long BetweenThresholds = -2;

    public double HighThreshold { get; }
    public double LowThreshold { get; }
    public bool AllowLowQualityMatches { get; }

    public Matcher(double highThreshold, double lowThreshold, bool allowLowQualityMatches = false)
    {
        if (lowThreshold > highThreshold)
            throw new ArgumentException($"Matcher: low threshold {lowThreshold} is above high threshold {highThreshold}", nameof(lowThreshold));
        HighThreshold = highThreshold;
        LowThreshold = lowThreshold;
        AllowLowQualityMatches = allowLowQualityMatches;
    }

    /// <summary>
    /// For an [M ground truth, N predictions] quality matrix (IoUs), the int64 [N] matched ground-truth index, or
    /// <see cref="BelowLowThreshold"/> / <see cref="BetweenThresholds"/>.
    /// </summary>
    public Tensor Match(Tensor matchQualityMatrix)
    {
        if (matchQualityMatrix.dim() != 2)
            throw new ArgumentException($"Matcher: the quality matrix has shape [{string.Join(", ", matchQualityMatrix.shape)}], expected [ground truth, predictions]", nameof(matchQualityMatrix));
        if (matchQualityMatrix.numel() == 0)
            throw new ArgumentException(matchQualityMatrix.shape[0] == 0
                ? "Matcher: no ground-truth boxes available for one of the images during training"
                : "Matcher: no proposal boxes available for one of the images during training", nameof(matchQualityMatrix));
        using var scope = NewDisposeScope();
        var (matchedValues, matches) = matchQualityMatrix.max(0);
        var allMatches = AllowLowQualityMatches ? matches.clone() : null;
        var below = matchedValues.lt(LowThreshold);
        var between = matchedValues.ge(LowThreshold).logical_and(matchedValues.lt(HighThreshold));
        matches = matches.masked_fill(below, BelowLowThreshold).masked_fill(between, BetweenThresholds);
        if (allMatches is not null)
        {
            // Each ground truth's best predictions (ties included) get it back, however low the overlap.
            var (highestForEachGt, _) = matchQualityMatrix.max(1);
            var predictions = matchQualityMatrix.eq(highestForEachGt.unsqueeze(1)).nonzero()[.., 1];
            matches.index_put_(allMatches.index_select(0, predictions), predictions);
        }
        return matches.MoveToOuterDisposeScope();
    }
}
