using Backbones.Init;
using static TorchSharp.torch;

namespace Backbones.Tests.Init;

/// <summary>The truncated normal initialiser: moments of the cut distribution, bounds, and torchvision's std-0.02 use.</summary>
public sealed class TruncatedNormalTests
{
    [Fact]
    public void WithFarBoundsIsANormalOfTheGivenMeanAndStd()
    {
        using var t = TruncatedNormal.Fill_(empty(200_000), mean: 0.0, std: 0.02); // torchvision's ConvNeXt call: cut at ±2 = ±100 std
        Assert.InRange(t.mean().item<float>(), -0.0003f, 0.0003f); // 6 standard errors (0.02 / sqrt(200000) = 4.5e-5)
        Assert.InRange(t.std().item<float>(), 0.0199f, 0.0201f);
        Assert.True(t.abs().max().item<float>() > 0.06f, "a normal of 200000 draws reaches past 3 std");
    }

    [Fact]
    public void CutsAtTheBoundsWithTheTruncatedMoments()
    {
        // normal(1, 2) cut to [-1, 3], i.e. ±1 std: mean 1, std 2 * sqrt(1 - 2 phi(1) / (2 Phi(1) - 1)) = 2 * 0.53956.
        using var t = TruncatedNormal.Fill_(empty(200_000, dtype: ScalarType.Float64), mean: 1, std: 2, a: -1, b: 3);
        Assert.True(t.min().item<double>() >= -1 && t.max().item<double>() <= 3);
        Assert.InRange(t.mean().item<double>(), 1 - 0.015, 1 + 0.015);
        Assert.InRange(t.std().item<double>(), 2 * 0.53956 - 0.01, 2 * 0.53956 + 0.01);
    }

    [Fact]
    public void RefusesANonPositiveStdOrEmptyInterval()
    {
        using var t = empty(4);
        Assert.Throws<ArgumentOutOfRangeException>(() => TruncatedNormal.Fill_(t, std: 0));
        Assert.Throws<ArgumentException>(() => TruncatedNormal.Fill_(t, a: 1, b: 1));
    }
}
