using Backbones.Models;
using Backbones.Tests.Support;
using Backbones.Transfer;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Tests.Models;

/// <summary>EfficientNet B0–B7 against torchvision: keys, eval outputs per stride, train-mode statistics, regularisation.</summary>
public sealed class EfficientNetTests
{
    static readonly string[] Variants = [.. Enumerable.Range(0, 8).Select(i => $"efficientnet_b{i}")];

    /// <summary>The deepest module at strides 2, 4, 8, 16, 32 (the feature levels), and the head convolution.</summary>
    static readonly string[] Features = ["features.1", "features.2", "features.3", "features.5", "features.7", "features.8"];

    /// <summary>
    /// Stochastic depth drops random samples in train mode (differently in PyTorch and here), which would change the
    /// BatchNorm statistics of every later block; both sides run without it. Eval outputs do not depend on it, and
    /// <see cref="RegularisationIsTorchvisions"/> checks its probabilities.
    /// </summary>
    static readonly ModelOptions NoDropPath = new() { DropPathRate = 0 };
    const string NoDropPathKwargs = "{\"stochastic_depth_prob\": 0.0}";

    [Theory]
    [InlineData("efficientnet_b0", 224)]
    [InlineData("efficientnet_b1", 64)]
    [InlineData("efficientnet_b2", 64)]
    [InlineData("efficientnet_b3", 64)]
    [InlineData("efficientnet_b4", 64)]
    [InlineData("efficientnet_b5", 64)]
    [InlineData("efficientnet_b6", 64)]
    [InlineData("efficientnet_b7", 64)]
    public void MatchesTorchvision(string model, int size) =>
        ModelParity.Check(model, size, Features, batch: 1, NoDropPath, NoDropPathKwargs);

    [Fact]
    public void RegularisationIsTorchvisions()
    {
        var expected = Regularization.Torchvision(Variants);
        foreach (var name in Variants)
        {
            using var model = ModelZoo.Create(name);
            Assert.Equal(expected[name], Regularization.Of(model));
        }
        var scaled = Regularization.Torchvision(["efficientnet_b0"], "{\"stochastic_depth_prob\": 0.5}")["efficientnet_b0"];
        using var custom = ModelZoo.Create("efficientnet_b0", new ModelOptions { DropPathRate = 0.5, DropRate = 0.35 });
        Assert.Equal(scaled.Select(l => l.Replace("classifier.0 dropout 0.2", "classifier.0 dropout 0.35")), Regularization.Of(custom));
    }

    [Theory]
    [InlineData("efficientnet_b0", new long[] { 16, 24, 40, 112, 320 })]
    [InlineData("efficientnet_b4", new long[] { 24, 32, 56, 160, 448 })]
    public void FeatureInfoNamesTheDeepestModuleAtEachStride(string name, long[] channels)
    {
        using var model = ModelZoo.Create(name);
        model.eval();
        Assert.Equal(["features.1", "features.2", "features.3", "features.5", "features.7"], model.FeatureInfo.Select(f => f.Module));
        Assert.Equal([2L, 4, 8, 16, 32], model.FeatureInfo.Select(f => f.Reduction));
        Assert.Equal(channels, model.FeatureInfo.Select(f => f.Channels));

        BackboneChecks.FeatureInfoMatchesOutputs(model, 64, exact: true);
    }

    [Fact]
    public void ResetClassifierKeepsTheBodyAndInitialisesTheHeadLikeTorchvision()
    {
        using var model = ModelZoo.Create("efficientnet_b0");
        model.eval();
        var before = model.OrderedStateDict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        model.ResetClassifier(10);

        Assert.Equal(10, model.NumClasses);
        var after = model.OrderedStateDict();
        Assert.Equal(before.Keys, after.Select(kv => kv.Key));
        foreach (var (key, value) in after)
        {
            if (key.StartsWith("classifier.", StringComparison.Ordinal)) continue;
            Assert.True(before[key].eq(value).all().item<bool>(), $"{key} changed");
        }
        var weight = after.Single(kv => kv.Key == "classifier.1.weight").Value;
        var bias = after.Single(kv => kv.Key == "classifier.1.bias").Value;
        Assert.Equal([10L, 1280], weight.shape);
        Assert.True(weight.abs().max().item<float>() <= 1 / Math.Sqrt(10), "uniform(-1/sqrt(out), 1/sqrt(out))");
        Assert.True(weight.std().item<float>() > 0.1, "freshly drawn, not constant"); // U(±0.316) has std 0.18
        Assert.Equal(0f, bias.abs().max().item<float>());

        Assert.False(model.named_children().Single(c => c.name == "classifier").module.training, "the new head follows the model's eval mode");
        using (no_grad())
        using (var logits = model.call(randn(1, 3, 64, 64)))
            Assert.Equal([1L, 10], logits.shape);
        using var features = model.ForwardFeatures(zeros(1, 3, 64, 64));
        using var preLogits = model.ForwardHead(features, preLogits: true);
        Assert.Equal([1L, 1280], preLogits.shape);
        foreach (var t in before.Values) t.Dispose();
    }
}
