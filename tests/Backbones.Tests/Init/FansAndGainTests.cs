using Backbones.Init;
using static TorchSharp.torch;

namespace Backbones.Tests.Init;

/// <summary>Fans of real TorchSharp layers' weights and the gains of calculate_gain, by hand arithmetic.</summary>
public sealed class FansAndGainTests
{
    [Fact]
    public void FansOfConvolutionAndLinearWeights()
    {
        using var conv = nn.Conv2d(3, 64, 7);                 // [64, 3, 7, 7]
        using var depthwise = nn.Conv2d(32, 32, 3, groups: 32); // [32, 1, 3, 3]
        using var transposed = nn.ConvTranspose2d(16, 8, 4);  // [16, 8, 4, 4]: PyTorch's fans read dim 1 as inputs
        using var conv1d = nn.Conv1d(4, 10, 5);
        using var conv3d = nn.Conv3d(2, 6, 3);
        using var linear = nn.Linear(2048, 1000);
        Assert.Equal((147L, 3136L), Fans.Compute(conv.weight!));
        Assert.Equal((9L, 288L), Fans.Compute(depthwise.weight!));
        Assert.Equal((128L, 256L), Fans.Compute(transposed.weight!));
        Assert.Equal((20L, 50L), Fans.Compute(conv1d.weight!));
        Assert.Equal((54L, 162L), Fans.Compute(conv3d.weight!));
        Assert.Equal((2048L, 1000L), Fans.Compute(linear.weight!));
        Assert.Equal(3136L, Fans.Select(conv.weight!, FanMode.FanOut));
    }

    [Fact]
    public void FansNeedTwoDimensions()
    {
        using var bias = zeros(10);
        Assert.Contains("fewer than 2 dimensions (shape [10])", Assert.Throws<ArgumentException>(() => Fans.Compute(bias)).Message);
    }

    [Fact]
    public void GainsOfEveryNonlinearity()
    {
        foreach (var linear in new[] { "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid" })
            Assert.Equal(1.0, Gain.Calculate(linear));
        Assert.Equal(5.0 / 3, Gain.Calculate("tanh"));
        Assert.Equal(Math.Sqrt(2), Gain.Calculate("relu"));
        Assert.Equal(Math.Sqrt(2 / 1.0001), Gain.Calculate("leaky_relu"));
        Assert.Equal(Math.Sqrt(2 / 1.04), Gain.Calculate("leaky_relu", 0.2));
        Assert.Equal(Math.Sqrt(2), Gain.Calculate("leaky_relu", 0));
        Assert.Equal(0.75, Gain.Calculate("selu"));
        Assert.Equal(12, Gain.Nonlinearities.Count);
    }

    [Fact]
    public void RefusesAnUnknownNonlinearityNamingIt()
    {
        var error = Assert.Throws<ArgumentException>(() => Gain.Calculate("Tanh"));
        Assert.StartsWith("unsupported nonlinearity 'Tanh'; supported: linear, conv1d", error.Message);
    }
}
