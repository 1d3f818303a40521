using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Models.Layers;

/// <summary>
/// Stochastic depth ("Deep Networks with Stochastic Depth", Huang et al. 2016) as torchvision.ops.StochasticDepth:
/// in training, zeroes the whole input ("batch") or each sample ("row") with probability <see cref="P"/> and scales
/// survivors by 1/(1-p); the identity in eval mode. No parameters, so no state-dict keys.
/// </summary>
public sealed class StochasticDepth : nn.Module<Tensor, Tensor>
{
    public enum Mode { Batch, Row }

    /// <summary>Probability of dropping the input (a sample of it in row mode).</summary>
    public double P { get; }

    public Mode DropMode { get; }

    public StochasticDepth(double p, Mode mode) : base(nameof(StochasticDepth))
    {
        if (p is < 0.0 or > 1.0) throw new ArgumentOutOfRangeException(nameof(p), p, "drop probability has to be between 0 and 1");
        P = p;
        DropMode = mode;
    }

    public override Tensor forward(Tensor input)
    {
        if (!training || P == 0.0) return input.alias();
        using var scope = NewDisposeScope();
        double survival = 1.0 - P;
        long[] size = DropMode == Mode.Row
            ? [input.shape[0], .. Enumerable.Repeat(1L, (int)input.ndim - 1)]
            : [.. Enumerable.Repeat(1L, (int)input.ndim)];
        var noise = empty(size, input.dtype, input.device).bernoulli_(survival);
        if (survival > 0.0) noise.div_(survival);
        return (input * noise).MoveToOuterDisposeScope();
    }

    public override string ToString() => $"StochasticDepth(p={P}, mode={DropMode.ToString().ToLowerInvariant()})";
}
