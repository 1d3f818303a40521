using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Init;

/// <summary>
/// PyTorch's <c>nn.init.trunc_normal_</c>: a normal(mean, std) cut to [a, b] (absolute bounds), by inverse-CDF
/// sampling. TorchSharp 0.107's own <c>init.trunc_normal_</c> multiplies by the mean and adds the std (it fills a
/// zero-mean tensor with the constant std), so ConvNeXt and the other trunc-normal families use this one.
/// </summary>
public static class TruncatedNormal
{
    /// <summary>Fills <paramref name="tensor"/> in place, as torch.nn.init.trunc_normal_(tensor, mean, std, a, b).</summary>
    public static Tensor Fill_(Tensor tensor, double mean = 0.0, double std = 1.0, double a = -2.0, double b = 2.0, Generator? generator = null)
    {
        if (std <= 0) throw new ArgumentOutOfRangeException(nameof(std), std, "the standard deviation must be positive");
        if (!(a < b)) throw new ArgumentException($"the lower bound {a} must be below the upper bound {b}");
        using var _ = no_grad();
        double l = NormalCdf((a - mean) / std), u = NormalCdf((b - mean) / std);
        tensor.uniform_(2 * l - 1, 2 * u - 1, generator);
        tensor.erfinv_();
        tensor.mul_(std * Math.Sqrt(2.0));
        tensor.add_(mean);
        tensor.clamp_(a, b);
        return tensor;
    }

    // .NET has no erf; libtorch's (std::erf in double) is the one PyTorch's math.erf agrees with.
    static double NormalCdf(double x)
    {
        using var t = tensor(x / Math.Sqrt(2.0), ScalarType.Float64);
        using var erf = t.erf();
        return (1.0 + erf.item<double>()) / 2.0;
    }
}
