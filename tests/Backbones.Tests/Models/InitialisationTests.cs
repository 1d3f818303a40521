using Backbones.Models;
using Backbones.Transfer;
using static TorchSharp.torch;

namespace Backbones.Tests.Models;

/// <summary>Fresh models are initialised as torchvision initialises them, checked against the schemes' formulas.</summary>
public sealed class InitialisationTests
{
    [Fact]
    public void ResNetUsesKaimingFanOutForConvolutionsAndUnitBatchNorm()
    {
        manual_seed(1);
        using var model = ModelZoo.Create("resnet50");
        var state = model.OrderedStateDict().ToDictionary(kv => kv.Key, kv => kv.Value);

        // kaiming_normal_(mode="fan_out", nonlinearity="relu"): std = sqrt(2 / (out_channels * kH * kW)).
        var conv = state["layer1.0.conv2.weight"]; // [64, 64, 3, 3]: 36,864 samples, sample std within 0.4% (1 sigma)
        double expectedStd = Math.Sqrt(2.0 / (64 * 3 * 3));
        Assert.InRange(conv.std().item<float>(), expectedStd * 0.97, expectedStd * 1.03);
        Assert.InRange(conv.mean().item<float>(), -4 * expectedStd / Math.Sqrt(36864), 4 * expectedStd / Math.Sqrt(36864));

        Assert.Equal(1f, state["layer2.1.bn2.weight"].min().item<float>());
        Assert.Equal(1f, state["layer2.1.bn2.weight"].max().item<float>());
        Assert.Equal(0f, state["layer2.1.bn2.bias"].abs().max().item<float>());

        // nn.Linear's default: kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)); std = bound / sqrt(3).
        var fc = state["fc.weight"]; // [1000, 2048]
        double bound = 1 / Math.Sqrt(2048);
        Assert.InRange(fc.abs().max().item<float>(), bound * 0.99, bound);
        Assert.InRange(fc.std().item<float>(), bound / Math.Sqrt(3) * 0.99, bound / Math.Sqrt(3) * 1.01);
    }
}
