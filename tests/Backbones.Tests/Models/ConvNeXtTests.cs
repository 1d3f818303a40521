using Backbones.Models;
using Backbones.Models.Layers;
using Backbones.Tests.Support;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Tests.Models;

/// <summary>ConvNeXt against torchvision: keys, eval outputs per stage, stochastic depth, the LayerNorm-keeping head reset.</summary>
public sealed class ConvNeXtTests
{
    static readonly string[] Variants = ["convnext_tiny", "convnext_small", "convnext_base", "convnext_large"];

    /// <summary>The four stage outputs (strides 4, 8, 16, 32) and the stem's LayerNorm2d.</summary>
    static readonly string[] Features = ["features.0.1", "features.1", "features.3", "features.5", "features.7"];

    // ConvNeXt has no BatchNorm, so ModelParity has no train-mode statistics to compare: a small train input keeps the
    // (unused) PyTorch train-mode forward cheap.
    [Theory]
    [InlineData("convnext_tiny", 224)]
    [InlineData("convnext_small", 64)]
    [InlineData("convnext_base", 64)]
    [InlineData("convnext_large", 64)]
    public void MatchesTorchvision(string model, int size) => ModelParity.Check(model, size, Features, batch: 1, trainSize: size);

    [Fact]
    public void RegularisationIsTorchvisions()
    {
        var expected = Regularization.Torchvision(Variants);
        foreach (var name in Variants)
        {
            using var model = ModelZoo.Create(name);
            Assert.Equal(expected[name], Regularization.Of(model));
        }
        var scaled = Regularization.Torchvision(["convnext_tiny"], "{\"stochastic_depth_prob\": 0.3}")["convnext_tiny"];
        using var custom = ModelZoo.Create("convnext_tiny", new ModelOptions { DropPathRate = 0.3 });
        Assert.Equal(scaled, Regularization.Of(custom));
    }

    [Fact]
    public void DropRateAddsAKeylessDropoutBeforeTheLinearLayer()
    {
        using var plain = ModelZoo.Create("convnext_tiny");
        using var model = ModelZoo.Create("convnext_tiny", new ModelOptions { DropRate = 0.3 });
        Assert.Equal("head_drop dropout 0.3", Regularization.Of(model)[^1]);
        Assert.Equal(plain.OrderedStateDict().Select(kv => kv.Key), model.OrderedStateDict().Select(kv => kv.Key));

        model.ResetClassifier(5);
        Assert.Equal(["features", "avgpool", "classifier", "head_drop"], model.named_children().Select(c => c.name));
        model.train();
        using var features = ones(1, 768, 2, 2);
        using var preLogits = model.ForwardHead(features, preLogits: true);
        Assert.True(preLogits.eq(0).any().item<bool>(), "dropout 0.3 over 768 values zeroes some");
    }

    [Fact]
    public void StochasticDepthDropsWholeSamplesInTrainingOnly()
    {
        using var drop = new StochasticDepth(0.25, StochasticDepth.Mode.Row);
        using var x = ones(4000, 3, 2, 2);
        using (var y = drop.call(x))
        {
            using var perSample = y.flatten(1);
            Assert.True(perSample.min(1).values.eq(perSample.max(1).values).all().item<bool>(), "a sample is kept or dropped whole");
            using var kept = perSample[.., 0];
            Assert.True(kept.eq(0).logical_or(kept.eq(1 / 0.75f)).all().item<bool>(), "survivors scaled by 1/(1-p)");
            double dropped = kept.eq(0).to_type(ScalarType.Float64).mean().item<double>();
            Assert.InRange(dropped, 0.25 - 0.03, 0.25 + 0.03); // 4.4 standard deviations of a binomial(4000, 0.25) fraction
        }
        drop.eval();
        using (var y = drop.call(x)) Assert.True(y.eq(x).all().item<bool>(), "identity in eval mode");
    }

    [Fact]
    public void FeatureInfoNamesTheFourStages()
    {
        using var model = ModelZoo.Create("convnext_tiny");
        Assert.Equal(
            [new("features.1", 96, 4), new("features.3", 192, 8), new("features.5", 384, 16), new FeatureInfo("features.7", 768, 32)],
            model.FeatureInfo);
        Assert.Equal(768, model.NumFeatures);
    }

    [Fact]
    public void ResetClassifierKeepsTheHeadLayerNormAndInitialisesTheLinearLikeTorchvision()
    {
        using var model = ModelZoo.Create("convnext_tiny");
        model.eval();
        var before = model.OrderedStateDict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        using (no_grad()) foreach (var (key, value) in model.OrderedStateDict().Where(kv => kv.Key.StartsWith("classifier.0.")))
            value.uniform_(0.5, 1.5); // a trained head norm, which the reset must keep
        var norm = model.OrderedStateDict().Where(kv => kv.Key.StartsWith("classifier.0.")).ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        model.ResetClassifier(10);

        Assert.Equal(10, model.NumClasses);
        var after = model.OrderedStateDict();
        Assert.Equal(before.Keys, after.Select(kv => kv.Key));
        foreach (var (key, value) in after)
        {
            if (key.StartsWith("classifier.2.", StringComparison.Ordinal)) continue;
            var expected = norm.TryGetValue(key, out var n) ? n : before[key];
            Assert.True(expected.eq(value).all().item<bool>(), $"{key} changed");
        }
        var weight = after.Single(kv => kv.Key == "classifier.2.weight").Value;
        Assert.Equal([10L, 768], weight.shape);
        Assert.InRange(weight.std().item<float>(), 0.015f, 0.025f); // trunc_normal(std 0.02) over 7680 values
        Assert.Equal(0f, after.Single(kv => kv.Key == "classifier.2.bias").Value.abs().max().item<float>());

        using (no_grad())
        using (var logits = model.call(randn(1, 3, 64, 64)))
            Assert.Equal([1L, 10], logits.shape);
        foreach (var t in before.Values.Concat(norm.Values)) t.Dispose();
    }
}
