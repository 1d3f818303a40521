using Backbones.Models;
using Backbones.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;

namespace Backbones.Tests.Models;

/// <summary>SqueezeNet 1.0 and 1.1 against torchvision: keys, eval outputs at each max-pool and of the features; feature info, classifier reset.</summary>
public sealed class SqueezeNetTests
{
    [Theory]
    [InlineData("squeezenet1_0", 224, new[] { "features.2", "features.6", "features.11", "features.12" })]
    [InlineData("squeezenet1_1", 64, new[] { "features.2", "features.5", "features.8", "features.12" })]
    public void MatchesTorchvision(string model, int size, string[] features) =>
        ModelParity.Check(model, size, features, batch: size == 224 ? 2 : 1);

    [Theory]
    [InlineData("squeezenet1_0", new[] { "features.2", "features.6", "features.12" }, new[] { 96L, 256, 512 })]
    [InlineData("squeezenet1_1", new[] { "features.2", "features.5", "features.12" }, new[] { 64L, 128, 512 })]
    public void FeatureInfoIsTheFirstPoolsThenTheFeatures(string model, string[] modules, long[] channels)
    {
        using var net = ModelZoo.Create(model);
        Assert.Equal(modules, net.FeatureInfo.Select(f => f.Module));
        Assert.Equal(channels, net.FeatureInfo.Select(f => f.Channels));
        Assert.Equal([4L, 8, 16], net.FeatureInfo.Select(f => f.Reduction));
        BackboneChecks.FeatureInfoMatchesOutputs(net, 224, exact: false);
    }

    [Fact]
    public void ResetClassifierGivesTenOutputsAndKeepsTheRest() =>
        BackboneChecks.ResetClassifierKeepsTheRest("squeezenet1_1", 10, 64, model =>
        {
            var conv = (Conv2d)model.named_modules().Single(m => m.name == "classifier.1").module;
            Assert.Equal([10L, 512, 1, 1], conv.weight!.shape);
            Assert.InRange(conv.weight.std().item<float>(), 0.0093, 0.0107); // normal(0, 0.01) as torchvision
            Assert.Equal(0, conv.bias!.abs().max().item<float>());
            using var x = torch.randn(1, 3, 64, 64);
            using var preLogits = model.ForwardHead(model.ForwardFeatures(x), preLogits: true);
            Assert.Equal([1L, 512, 3, 3], preLogits.shape);
            using var logits = torch.nn.functional.adaptive_avg_pool2d(torch.nn.functional.relu(conv.call(preLogits)), 1).flatten(1);
            Assert.True(logits.allclose(model.call(x)), "pre-logits are not the input of classifier.1");
        });

    [Fact]
    public void DropRateSetsTheClassifierDropout()
    {
        using var custom = ModelZoo.Create("squeezenet1_0", new ModelOptions { DropRate = 0.3 });
        var dropouts = custom.named_modules().Where(m => m.module is Dropout).Select(m => (m.name, ((Dropout)m.module).p)).ToList();
        Assert.Equal([("classifier.0", 0.3)], dropouts);
    }
}
