using Backbones.Models;
using Backbones.Tests.Support;
using Backbones.Transfer;
using static TorchSharp.torch;

namespace Backbones.Tests.Models;

/// <summary>MobileNet V2 and V3 against torchvision: keys, eval outputs at each stride, train-mode statistics, the head.</summary>
public sealed class MobileNetTests
{
    [Theory]
    [InlineData("mobilenet_v3_large", 224, 2)]
    [InlineData("mobilenet_v3_small", 96, 1)]
    [InlineData("mobilenet_v2", 96, 1)]
    public void MatchesTorchvision(string model, int size, int batch)
    {
        using var net = ModelZoo.Create(model);
        ModelParity.Check(model, size, net.FeatureInfo.Select(f => f.Module).ToArray(), batch);
    }

    [Theory]
    [InlineData("mobilenet_v2", "features.1:16:2,features.3:24:4,features.6:32:8,features.13:96:16,features.18:1280:32")]
    [InlineData("mobilenet_v3_large", "features.1:16:2,features.3:24:4,features.6:40:8,features.12:112:16,features.16:960:32")]
    [InlineData("mobilenet_v3_small", "features.0:16:2,features.1:16:4,features.3:24:8,features.8:48:16,features.12:576:32")]
    public void FeatureInfoIsTheDeepestModuleAtEachStride(string model, string expected)
    {
        using var net = ModelZoo.Create(model);
        Assert.Equal(expected, string.Join(",", net.FeatureInfo.Select(f => $"{f.Module}:{f.Channels}:{f.Reduction}")));
        BackboneChecks.FeatureInfoMatchesOutputs(net, 64, exact: true);
    }

    [Theory]
    [InlineData("mobilenet_v2", "classifier.1", 1280)]
    [InlineData("mobilenet_v3_large", "classifier.3", 1280)]
    [InlineData("mobilenet_v3_small", "classifier.3", 1024)]
    public void ResetClassifierReplacesOnlyTheLastLinear(string model, string head, long width)
    {
        using var net = ModelZoo.Create(model, new ModelOptions { DropRate = 0.5 });
        net.eval();
        Assert.Equal(head, net.ClassifierPath);
        Assert.Equal(width, net.NumFeatures);
        var before = net.OrderedStateDict().Where(kv => !kv.Key.StartsWith(head + ".", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        using var x = randn(2, 3, 64, 64);
        Tensor preLogitsBefore;
        using (no_grad()) preLogitsBefore = net.ForwardHead(net.ForwardFeatures(x), preLogits: true);

        net.ResetClassifier(10);

        Assert.Equal(10, net.NumClasses);
        var afterList = net.OrderedStateDict();
        Assert.Equal(before.Keys.Append(head + ".weight").Append(head + ".bias"), afterList.Select(kv => kv.Key));
        var after = afterList.ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(new long[] { 10, width }, after[head + ".weight"].shape);
        foreach (var (key, value) in before) Assert.True(value.equal(after[key]).all().item<bool>(), key);
        // torchvision's Linear initialisation: N(0, 0.01) weights, zero bias
        Assert.InRange(after[head + ".weight"].std().item<float>(), 0.008, 0.012);
        Assert.Equal(0, after[head + ".bias"].abs().sum().item<float>());
        Assert.False(net.training);
        using (no_grad())
        {
            using var features = net.ForwardFeatures(x);
            using var preLogits = net.ForwardHead(features, preLogits: true);
            using var logits = net.ForwardHead(features);
            Assert.Equal(new long[] { 2, width }, preLogits.shape);
            Assert.True(preLogits.allclose(preLogitsBefore), "the layers before the new head are unchanged");
            ModelParity.AssertClose($"{model} logits", nn.functional.linear(preLogits, after[head + ".weight"], after[head + ".bias"]), logits);
            Assert.Equal(new long[] { 2, 10 }, net.call(x).shape);
        }
        preLogitsBefore.Dispose();
    }

    [Theory]
    [InlineData("mobilenet_v2", "classifier.0", 0.2)]
    [InlineData("mobilenet_v3_large", "classifier.2", 0.2)]
    public void DropRateSetsTheClassifierDropout(string model, string dropout, double defaultRate)
    {
        using var byDefault = ModelZoo.Create(model);
        using var overridden = ModelZoo.Create(model, new ModelOptions { DropRate = 0.7 });
        double Rate(Backbone net) => ((TorchSharp.Modules.Dropout)net.named_modules().Single(m => m.name == dropout).module).p;
        Assert.Equal(defaultRate, Rate(byDefault));
        Assert.Equal(0.7, Rate(overridden));
    }
}
