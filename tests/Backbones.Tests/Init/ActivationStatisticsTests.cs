using Backbones.Init;
using Backbones.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Tests.Init;

/// <summary>
/// Per-layer output statistics of a forward, and the classic demonstration: a 100-layer MLP keeps its activations'
/// scale with the right initialisation, and loses it (to 0, saturation or inf) with the wrong one. Expected figures
/// come from mean-field theory (Poole et al. 2016): q' = σ_w² · fan_in · E[φ(√q z)²], z ~ N(0, 1), biases 0.
/// </summary>
public sealed class ActivationStatisticsTests
{
    const int Depth = 100, Width = 256, Batch = 256;

    static ActivationStatistics RunMlp(string activation, InitPolicy policy)
    {
        using var model = Mlp.Create(Depth, Width, activation, policy, new Generator(seed: 1));
        using var x = randn(Batch, Width, generator: new Generator(seed: 2));
        return ActivationStatistics.Measure(model, x);
    }

    /// <summary>Mean-field pre-activation variance after <paramref name="layers"/> layers, from unit-variance inputs.</summary>
    static double MeanFieldVariance(double weightVarianceTimesFanIn, int layers, Func<double, double> activation)
    {
        double q = weightVarianceTimesFanIn; // the first layer sees the raw N(0, 1) input
        for (int i = 1; i < layers; i++) q = weightVarianceTimesFanIn * GaussianMean(z => Math.Pow(activation(Math.Sqrt(q) * z), 2));
        return q;
    }

    // E[f(z)] for z ~ N(0, 1) by the trapezoid rule on [-12, 12] (the tails beyond hold < 1e-32 of the mass).
    static double GaussianMean(Func<double, double> f)
    {
        const int steps = 24_000;
        double h = 24.0 / steps, sum = 0;
        for (int i = 0; i <= steps; i++)
        {
            double z = -12 + i * h;
            sum += (i == 0 || i == steps ? 0.5 : 1) * f(z) * Math.Exp(-z * z / 2);
        }
        return sum * h / Math.Sqrt(2 * Math.PI);
    }

    [Fact]
    public void TanhMlpWithXavierAndGainFiveThirdsKeepsItsScale()
    {
        var stats = RunMlp("tanh", InitPolicy.Xavier(Gain.Calculate("tanh")));

        // sigma_w^2 * fan_in = (5/3)^2 * 2 / (256 + 256) * 256 = 25/9: a stable fixed point q* = 1.178 (pre-activation
        // std 1.086), tanh output std 0.651. Finite width moves the measured figures by under 1% across seeds.
        double q = MeanFieldVariance(25.0 / 9, Depth, Math.Tanh);
        double tanhStd = Math.Sqrt(GaussianMean(z => Math.Pow(Math.Tanh(Math.Sqrt(q) * z), 2)));
        Assert.InRange(Math.Sqrt(q), 1.08, 1.09);
        Assert.InRange(stats.Layers[^2].Std, Math.Sqrt(q) * 0.97, Math.Sqrt(q) * 1.03);
        Assert.InRange(stats.Last!.Std, tanhStd * 0.97, tanhStd * 1.03);
        Assert.Equal(2 * Depth, stats.Layers.Count);
        Assert.Null(stats.FirstVanished);
        Assert.Null(stats.FirstExploded);
        Assert.All(stats.Layers.Where(l => l.Type == "Tanh"), l => Assert.InRange(l.Std, 0.6, 0.8));
    }

    [Fact]
    public void TanhMlpWithNormal001CollapsesToZero()
    {
        var stats = RunMlp("tanh", InitPolicy.Normal001);

        // sigma_w^2 * fan_in = 1e-4 * 256: each layer scales the std by 0.16 (tanh is the identity near 0), so
        // 0.16^100 = 2e-80, below float32's smallest number (1.4e-45): the output is exactly 0. The std first drops
        // under 1e-6 at the 8th Linear (0.16^7 = 2.7e-6, 0.16^8 = 4.3e-7), row 14.
        Assert.Equal(0.0, stats.Last!.Std);
        Assert.Equal(0.0, stats.Last.Max);
        Assert.Equal(14, stats.FirstVanished!.Index);
        Assert.Equal("Linear", stats.FirstVanished.Type);
        Assert.InRange(stats.Layers[0].Std, 0.16 * 0.95, 0.16 * 1.05);
        Assert.Null(stats.FirstNonFinite);
        Assert.Contains("vanished (std < 1e-6 x input std) first at row 14, 14 (Linear)", stats.ToString());
    }

    [Fact]
    public void TanhMlpWithNormal1Saturates()
    {
        var stats = RunMlp("tanh", InitPolicy.Normal(1));

        // sigma_w^2 * fan_in = 256: pre-activations of std sqrt(q*) = 15.6 (mean field), so tanh outputs sit at ±1
        // (std 0.974): saturated, gradients through them vanish, yet nothing is infinite.
        double q = MeanFieldVariance(256, Depth, Math.Tanh);
        Assert.InRange(Math.Sqrt(q), 15.5, 15.7);
        Assert.InRange(stats.Layers[^2].Std, Math.Sqrt(q) * 0.97, Math.Sqrt(q) * 1.03);
        Assert.InRange(stats.Last!.Std, 0.95, 1.0);
        Assert.Null(stats.FirstNonFinite);
        Assert.Null(stats.FirstVanished);
    }

    [Fact]
    public void ReluMlpWithNormal1OverflowsAndTheReportNamesTheFirstLayer()
    {
        var stats = RunMlp("relu", InitPolicy.Normal(1));

        // Each Linear multiplies the std by sqrt(256 / 2) = 11.3 (ReLU keeps half the second moment): std_k = 16 * 11.3^(k-1).
        // The largest of 65,536 draws, ~4.7 std, passes float32's 3.4e38 at k - 1 = ln(3.4e38 / 75) / ln(11.3) = 34.8:
        // the 36th Linear (row 70); finite-width drift moves it by a layer across seeds.
        var bad = stats.FirstNonFinite!;
        Assert.Equal("Linear", bad.Type);
        Assert.InRange(bad.Index / 2 + 1, 35, 38);
        Assert.All(stats.Layers.Take(bad.Index), l => Assert.True(l.IsFinite, $"row {l.Index} is finite"));
        Assert.All(stats.Layers.Skip(bad.Index), l => Assert.False(l.IsFinite, $"row {l.Index} is not finite"));
        Assert.Equal(Batch * Width, stats.Last!.NonFinite); // inf - inf in the next sums: NaN everywhere in the end
        Assert.True(double.IsNaN(stats.Last.Std));
        Assert.Equal(10, stats.FirstExploded!.Index); // 16 * 11.3^5 = 2.9e6 > 1e6 at the 6th Linear
        Assert.Contains($"first NaN/inf output: row {bad.Index}, {bad.Path} (Linear)", stats.ToString());
    }

    [Fact]
    public void ReluMlpWithKaimingKeepsItsScale()
    {
        var stats = RunMlp("relu", InitPolicy.Kaiming(FanMode.FanIn, "relu"));

        // sigma_w^2 * fan_in = 2 exactly undoes ReLU's halving: pre-activation std sqrt(2) = 1.41 at every depth in the
        // mean field. At width 256 the log of the std random-walks, about 0.06 per layer and so 0.6 after 100 (the last
        // Linear's std was 0.33 to 1.76 over five seeds): O(1) here is [0.1, 10], against inf for normal(0, 1) and 0 for
        // normal(0, 0.01).
        Assert.InRange(stats.Layers[0].Std, Math.Sqrt(2) * 0.97, Math.Sqrt(2) * 1.03);
        Assert.InRange(stats.Layers[^2].Std, 0.1, 10);
        Assert.Null(stats.FirstNonFinite);
        Assert.Null(stats.FirstVanished);
        Assert.Null(stats.FirstExploded);
    }

    [Fact]
    public void RowsFollowForwardOrderWithTheOutputsMoments()
    {
        using var model = nn.Sequential(
            ("conv", nn.Conv2d(3, 8, 3, padding: 1)),
            ("block", nn.Sequential(("bn", nn.BatchNorm2d(8)), ("relu", nn.ReLU()))),
            ("pool", nn.AdaptiveAvgPool2d(1)),
            ("flat", nn.Flatten()),
            ("fc", nn.Linear(8, 4)));
        model.eval();
        using var x = randn(2, 3, 6, 6, generator: new Generator(seed: 3));

        var stats = ActivationStatistics.Measure(model, x);

        Assert.Equal(["conv", "block.bn", "block.relu", "pool", "flat", "fc"], stats.Layers.Select(l => l.Path));
        Assert.Equal(["Conv2d", "BatchNorm2d", "ReLU", "AdaptiveAvgPool2d", "Flatten", "Linear"], stats.Layers.Select(l => l.Type));
        Assert.Equal([2L, 8, 6, 6], stats.Layers[0].Shape);
        Assert.Equal([2L, 4], stats.Layers[^1].Shape);
        using var conv = ((nn.Module<Tensor, Tensor>)model[0]).call(x).to_type(ScalarType.Float64);
        Assert.Equal(conv.mean().item<double>(), stats.Layers[0].Mean, 1e-12);
        Assert.Equal(conv.std().item<double>(), stats.Layers[0].Std, 1e-12);
        Assert.Equal(conv.min().item<double>(), stats.Layers[0].Min);
        Assert.Equal(conv.max().item<double>(), stats.Layers[0].Max);
        Assert.Equal(0.0, stats.Layers[2].Min); // ReLU
        using var xd = x.to_type(ScalarType.Float64);
        Assert.Equal(xd.std().item<double>(), stats.InputStd, 1e-12);
    }

    [Fact]
    public void CountsNaNsAndNamesTheirFirstLayer()
    {
        using var model = nn.Sequential(("a", nn.Linear(4, 4)), ("b", nn.Linear(4, 4)), ("c", nn.Tanh()));
        using (no_grad()) ((TorchSharp.Modules.Linear)model[1]).weight![0, 0] = float.NaN;
        using var x = randn(3, 4);

        var stats = ActivationStatistics.Measure(model, x);

        Assert.True(stats.Layers[0].IsFinite);
        Assert.Equal(3, stats.Layers[1].NonFinite); // row 0 of the weight: output column 0 of each of 3 samples
        Assert.Equal("b", stats.FirstNonFinite!.Path);
        Assert.Equal(3, stats.Layers[2].NonFinite);
        Assert.Contains("  3 NaN/inf", stats.ToString().Split('\n')[2]);
    }

    [Fact]
    public void MeasuresAZooModelFromStemToClassifier()
    {
        using var model = ModelZoo.Create("resnet18", new ModelOptions { NumClasses = 10 });
        model.eval();
        using var x = randn(1, 3, 64, 64);
        var stats = ActivationStatistics.Measure(model, x);
        Assert.Equal("conv1", stats.Layers[0].Path);
        Assert.Equal([1L, 64, 32, 32], stats.Layers[0].Shape);
        Assert.Equal("fc", stats.Last!.Path);
        Assert.Equal([1L, 10], stats.Last.Shape);
        Assert.Null(stats.FirstNonFinite);
    }

    [Fact]
    public void MlpRefusesAnUnknownActivation()
    {
        Assert.Contains("unknown MLP activation 'gelu'; known: tanh, relu", Assert.Throws<ArgumentException>(() => Mlp.Create(2, 4, "gelu")).Message);
    }
}
