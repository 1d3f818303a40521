using Backbones.Init;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Tests.Init;

/// <summary>
/// Each torch.nn.init scheme against its formula: moments within 6 standard errors of the sample size, bounds, and
/// the exact structure of the deterministic ones (eye, dirac, constant, sparse's zero count, orthogonality).
/// </summary>
public sealed class InitializersTests
{
    static Generator Seeded(long seed) => new Generator(seed: (ulong)seed);

    // Mean within 6 standard errors (std/sqrt(n)); the sample std within 6 of its own, std * sqrt((kurtosis - 1) / 4n).
    static void AssertMoments(Tensor t, double mean, double std, double kurtosis)
    {
        double n = t.numel();
        using var d = t.to_type(ScalarType.Float64);
        Assert.InRange(d.mean().item<double>(), mean - 6 * std / Math.Sqrt(n), mean + 6 * std / Math.Sqrt(n));
        double sd = 6 * std * Math.Sqrt((kurtosis - 1) / (4 * n));
        Assert.InRange(d.std().item<double>(), std - sd, std + sd);
    }

    // n uniform draws on [-bound, bound]: none outside, and the extremes within 20/n of the range from each end
    // (each misses that by chance with probability (1 - 10/n)^n < e^-10).
    static void AssertUniformBounds(Tensor t, double bound)
    {
        double n = t.numel(), min = t.min().item<float>(), max = t.max().item<float>();
        Assert.InRange(min, -bound, -bound + 20 * bound / n);
        Assert.InRange(max, bound - 20 * bound / n, bound);
    }

    [Fact]
    public void UniformHasTheMomentsAndBoundsOfUAB()
    {
        using var t = Initializers.Uniform(empty(400_000), -0.5, 2.0, Seeded(1));
        AssertMoments(t, 0.75, 2.5 / Math.Sqrt(12), 1.8);
        Assert.InRange(t.min().item<float>(), -0.5, -0.5 + 20 * 2.5 / 400_000);
        Assert.InRange(t.max().item<float>(), 2.0 - 20 * 2.5 / 400_000, 2.0);
    }

    [Fact]
    public void NormalHasTheGivenMeanAndStd()
    {
        using var t = Initializers.Normal(empty(400_000), 0.3, 2.0, Seeded(2));
        AssertMoments(t, 0.3, 2.0, 3);
        Assert.True(t.max().item<float>() > 0.3 + 4 * 2.0, "400,000 normal draws pass 4 std (P(not) = e^-12)");
    }

    [Fact]
    public void TruncNormalStaysInsideItsBoundsWithTheTruncatedMoments()
    {
        // N(0, 1) cut to [-1, 2]: Z = Phi(2) - Phi(-1) = 0.818595; mean = (phi(-1) - phi(2)) / Z = 0.229637;
        // var = 1 + (-1 phi(-1) - 2 phi(2)) / Z - mean^2 = 0.519763 (std 0.720946). Kurtosis below 3.
        using var t = Initializers.TruncNormal(empty(400_000), 0, 1, -1, 2, Seeded(3));
        AssertMoments(t, 0.229637, 0.720946, 3);
        Assert.True(t.min().item<float>() >= -1 && t.max().item<float>() <= 2);
    }

    [Fact]
    public void ConstantOnesAndZerosFillEveryElement()
    {
        using var t = randn(7, 9);
        Assert.Equal(63, Initializers.Constant(t, 0.25).eq(0.25f).sum().item<long>());
        Assert.Equal(63, Initializers.Ones(t).eq(1f).sum().item<long>());
        Assert.Equal(63, Initializers.Zeros(t).eq(0f).sum().item<long>());
    }

    [Theory]
    [InlineData(256, 128, 3, 1.0)]
    [InlineData(64, 512, 1, 5.0 / 3)]
    public void XavierUniformIsUPlusMinusGainTimesSqrt6OverFanSum(long outChannels, long inChannels, long kernel, double gain)
    {
        using var t = Initializers.XavierUniform(empty(outChannels, inChannels, kernel, kernel), gain, Seeded(4));
        double bound = gain * Math.Sqrt(6.0 / ((inChannels + outChannels) * kernel * kernel));
        AssertMoments(t, 0, bound / Math.Sqrt(3), 1.8);
        AssertUniformBounds(t, bound);
    }

    [Fact]
    public void XavierNormalHasStdGainTimesSqrt2OverFanSum()
    {
        using var t = Initializers.XavierNormal(empty(512, 256, 3, 3), 5.0 / 3, Seeded(5));
        AssertMoments(t, 0, 5.0 / 3 * Math.Sqrt(2.0 / ((256 + 512) * 9)), 3);
    }

    [Theory]
    [InlineData(FanMode.FanIn, "relu", 0.0, 2.0)]                 // gain^2 = 2
    [InlineData(FanMode.FanOut, "relu", 0.0, 2.0)]
    [InlineData(FanMode.FanIn, "leaky_relu", 0.0, 2.0)]           // PyTorch's default call: a = 0, so gain sqrt(2)
    [InlineData(FanMode.FanIn, "leaky_relu", 0.2, 2.0 / 1.04)]
    [InlineData(FanMode.FanOut, "tanh", 0.0, 25.0 / 9)]
    public void KaimingNormalHasStdGainOverSqrtFan(FanMode mode, string nonlinearity, double a, double gainSquared)
    {
        using var t = Initializers.KaimingNormal(empty(256, 128, 3, 3), a, mode, nonlinearity, Seeded(6));
        double fan = mode == FanMode.FanIn ? 128 * 9 : 256 * 9;
        AssertMoments(t, 0, Math.Sqrt(gainSquared / fan), 3);
    }

    [Theory]
    [InlineData(FanMode.FanIn, "leaky_relu", 2.2360679774997898)]   // nn.Linear's default, a = sqrt(5): bound 1/sqrt(fan_in)
    [InlineData(FanMode.FanOut, "relu", 0.0)]
    public void KaimingUniformIsUPlusMinusGainTimesSqrt3OverFan(FanMode mode, string nonlinearity, double a)
    {
        using var t = Initializers.KaimingUniform(empty(1000, 400), a, mode, nonlinearity, Seeded(7));
        double fan = mode == FanMode.FanIn ? 400 : 1000;
        double gain = nonlinearity == "relu" ? Math.Sqrt(2) : Math.Sqrt(2 / (1 + a * a));
        double bound = gain * Math.Sqrt(3 / fan);
        if (a > 0) Assert.Equal(1 / Math.Sqrt(400), bound, 1e-15);
        AssertMoments(t, 0, bound / Math.Sqrt(3), 1.8);
        AssertUniformBounds(t, bound);
    }

    [Fact]
    public void KaimingLeavesAnEmptyTensorAlone()
    {
        using var t = empty(0, 5);
        Assert.Same(t, Initializers.KaimingNormal(t));
        Assert.Same(t, Initializers.KaimingUniform(t));
    }

    [Fact]
    public void EyeIsTheRectangularIdentity()
    {
        using var wide = Initializers.Eye(full([3, 5], 7f));
        using var expected = cat([eye(3), zeros(3, 2)], 1);
        Assert.True(wide.allclose(expected, 0, 0));
        Assert.Equal(4f, Initializers.Eye(full([6, 4], 7f)).sum().item<float>());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void DiracConvolutionPassesItsInputThrough(long groups)
    {
        using var w = Initializers.Dirac(randn(6, 6 / groups, 3, 3), groups);
        using var x = randn(2, 6, 5, 5);
        using var y = nn.functional.conv2d(x, w, padding: [1, 1], groups: groups);
        Assert.True(y.allclose(x, 0, 0), "a Dirac kernel is the identity convolution");
        Assert.Equal(6f, w.sum().item<float>());
    }

    [Fact]
    public void DiracKeepsAsManyChannelsAsBothSidesHave()
    {
        using var narrow = Initializers.Dirac(randn(2, 5, 3), 1); // out 2 < in 5: channels 0 and 1 at the centre tap
        Assert.Equal(2f, narrow.sum().item<float>());
        Assert.Equal(1f, narrow[1, 1, 1].item<float>());
        using var volume = Initializers.Dirac(randn([4, 2, 3, 3, 3]), 1); // out 4 > in 2: output channels 2, 3 stay zero
        Assert.Equal(2f, volume.sum().item<float>());
        Assert.Equal(0f, volume[TensorIndex.Slice(2, 4)].abs().sum().item<float>());
    }

    [Theory]
    [InlineData(0.1, 100, 10)]
    [InlineData(0.25, 30, 8)]  // ceil(7.5)
    [InlineData(0.0, 30, 0)]
    public void SparseZeroesCeilSparsityTimesRowsInEveryColumn(double sparsity, long rows, long zerosPerColumn)
    {
        using var t = Initializers.Sparse(empty(rows, 2000), sparsity, 0.5, Seeded(8));
        using var perColumn = t.eq(0f).sum(dim: 0L);
        Assert.Equal(zerosPerColumn, perColumn.min().item<long>());
        Assert.Equal(zerosPerColumn, perColumn.max().item<long>());
        using var nonZero = t.masked_select(t.ne(0f));
        AssertMoments(nonZero, 0, 0.5, 3);
    }

    [Fact]
    public void SparseChoosesDifferentRowsPerColumn()
    {
        using var t = Initializers.Sparse(empty(100, 50), 0.5, generator: Seeded(9));
        using var zeroRows = t.eq(0f).sum(1); // each row is zero in about half the columns, not all or none
        Assert.True(zeroRows.max().item<long>() < 50 && zeroRows.min().item<long>() > 0);
    }

    [Theory]
    [InlineData(new long[] { 256, 128 }, 1.0)]
    [InlineData(new long[] { 64, 300 }, 2.0)]        // rows < cols: orthonormal rows
    [InlineData(new long[] { 32, 16, 3, 3 }, 1.0)]   // flattened to 32 x 144
    public void OrthogonalHasOrthonormalColumnsOrRowsTimesGain(long[] shape, double gain)
    {
        using var t = Initializers.Orthogonal(empty(shape), gain, Seeded(10));
        using var w = t.reshape(shape[0], -1).to_type(ScalarType.Float64);
        using var gram = w.shape[0] >= w.shape[1] ? w.t().matmul(w) : w.matmul(w.t());
        using var identity = eye(gram.shape[0], dtype: ScalarType.Float64) * (gain * gain);
        Assert.True((gram - identity).abs().max().item<double>() < 1e-5 * gain * gain, "W^T W = gain^2 I");
    }

    [Fact]
    public void ASeededGeneratorRepeatsItsDraws()
    {
        using var a = Initializers.KaimingNormal(empty(64, 32), generator: Seeded(11));
        manual_seed(999);
        using var b = Initializers.KaimingNormal(empty(64, 32), generator: Seeded(11));
        using var c = Initializers.KaimingNormal(empty(64, 32), generator: Seeded(12));
        Assert.True(a.allclose(b, 0, 0));
        Assert.False(a.allclose(c, 0, 0));
    }

    [Fact]
    public void FillsInPlaceWithoutRecordingGradients()
    {
        using var p = new TorchSharp.Modules.Parameter(zeros(8, 8));
        var result = Initializers.XavierUniform(p);
        Assert.Same(p, result);
        Assert.Null(p.grad);
        Assert.True(p.requires_grad);
        Assert.True(p.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void RefusesShapesPyTorchRefuses()
    {
        Assert.Contains("2 dimensions", Assert.Throws<ArgumentException>(() => Initializers.Eye(empty(2, 3, 4))).Message);
        Assert.Contains("3, 4, or 5", Assert.Throws<ArgumentException>(() => Initializers.Dirac(empty(3, 3))).Message);
        Assert.Contains("3, 4, or 5", Assert.Throws<ArgumentException>(() => Initializers.Dirac(empty([1, 1, 1, 1, 1, 1]))).Message);
        Assert.Contains("divisible by groups", Assert.Throws<ArgumentException>(() => Initializers.Dirac(empty(5, 2, 3, 3), 2)).Message);
        Assert.Contains("2 dimensions", Assert.Throws<ArgumentException>(() => Initializers.Sparse(empty(4, 4, 4), 0.1)).Message);
        Assert.Contains("2 or more", Assert.Throws<ArgumentException>(() => Initializers.Orthogonal(empty(5))).Message);
        Assert.Contains("fewer than 2 dimensions", Assert.Throws<ArgumentException>(() => Initializers.XavierNormal(empty(5))).Message);
        Assert.Contains("unsupported nonlinearity 'gelu'", Assert.Throws<ArgumentException>(() => Initializers.KaimingNormal(empty(4, 4), nonlinearity: "gelu")).Message);
    }
}
