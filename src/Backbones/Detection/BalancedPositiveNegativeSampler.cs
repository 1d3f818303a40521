using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision's BalancedPositiveNegativeSampler: per image, up to batchSizePerImage · positiveFraction positives
/// (matched index ≥ 1) and negatives (0) to fill the batch, drawn with randperm; -1 (ignored) is never drawn.
/// </summary>
public sealed class BalancedPositiveNegativeSampler
{
    public int BatchSizePerImage { get; }
    public double PositiveFraction { get; }

    public BalancedPositiveNegativeSampler(int batchSizePerImage, double positiveFraction)
    {
        if (batchSizePerImage <= 0) throw new ArgumentException($"BalancedPositiveNegativeSampler: batch size per image {batchSizePerImage} must be positive", nameof(batchSizePerImage));
        if (positiveFraction is < 0 or > 1) throw new ArgumentException($"BalancedPositiveNegativeSampler: positive fraction {positiveFraction} must lie in [0, 1]", nameof(positiveFraction));
        BatchSizePerImage = batchSizePerImage;
        PositiveFraction = positiveFraction;
    }

    /// <summary>
    /// For each image's matched indices (-1 ignored, 0 negative, ≥ 1 positive), uint8 masks of the positives and the
    /// negatives drawn. The draws are two randperm calls per image (positives, then negatives) from
    /// <paramref name="generator"/>, or from libtorch's default generator (torch.manual_seed) as in torchvision; a
    /// seeded generator repeats them, and libtorch's randperm on the CPU draws the same permutations as PyTorch's.
    /// </summary>
    public (Tensor[] Positive, Tensor[] Negative) Sample(IReadOnlyList<Tensor> matchedIdxs, Generator? generator = null)
    {
        var positives = new Tensor[matchedIdxs.Count];
        var negatives = new Tensor[matchedIdxs.Count];
        for (int i = 0; i < matchedIdxs.Count; i++)
        {
            using var scope = NewDisposeScope();
            var matched = matchedIdxs[i];
            var positive = matched.ge(1).nonzero().view(-1);
            var negative = matched.eq(0).nonzero().view(-1);
            long numPos = Math.Min(positive.numel(), (long)(BatchSizePerImage * PositiveFraction));
            long numNeg = Math.Min(negative.numel(), BatchSizePerImage - numPos);
            var perm1 = randperm(positive.numel(), ScalarType.Int64, positive.device, generator: generator)[..(int)numPos];
            var perm2 = randperm(negative.numel(), ScalarType.Int64, negative.device, generator: generator)[..(int)numNeg];
            var posMask = zeros_like(matched, ScalarType.Byte);
            var negMask = zeros_like(matched, ScalarType.Byte);
            posMask.index_put_(1, positive.index_select(0, perm1));
            negMask.index_put_(1, negative.index_select(0, perm2));
            positives[i] = posMask.MoveToOuterDisposeScope();
            negatives[i] = negMask.MoveToOuterDisposeScope();
        }
        return (positives, negatives);
    }
}
