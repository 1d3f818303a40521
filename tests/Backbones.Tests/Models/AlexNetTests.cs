using Backbones.Models;
using Backbones.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;

namespace Backbones.Tests.Models;

/// <summary>AlexNet against torchvision: keys, eval outputs at each max-pool; feature info, classifier reset, dropout rate.</summary>
public sealed class AlexNetTests
{
    static readonly string[] Pools = ["features.2", "features.5", "features.12"];

    [Fact]
    public void MatchesTorchvision() => ModelParity.Check("alexnet", 224, Pools, batch: 2);

    [Fact]
    public void MatchesTorchvisionAtTheSmallestSize() => ModelParity.Check("alexnet", 63, Pools, batch: 1, name: "alexnet_63");

    [Fact]
    public void FeatureInfoIsEachMaxPool()
    {
        using var net = ModelZoo.Create("alexnet");
        Assert.Equal(Pools, net.FeatureInfo.Select(f => f.Module));
        Assert.Equal([64L, 192, 256], net.FeatureInfo.Select(f => f.Channels));
        BackboneChecks.FeatureInfoMatchesOutputs(net, 224, exact: false);
    }

    [Fact]
    public void ResetClassifierGivesTenOutputsAndKeepsTheRest() =>
        BackboneChecks.ResetClassifierKeepsTheRest("alexnet", 10, 63, model =>
        {
            // PyTorch's default Linear initialisation: uniform(±1/√fan_in) for weight and bias.
            var fc = (Linear)model.named_modules().Single(m => m.name == "classifier.6").module;
            double bound = 1 / Math.Sqrt(4096);
            Assert.InRange(fc.weight!.abs().max().item<float>(), 0.95 * bound, bound);
            Assert.InRange(fc.weight.std().item<float>(), 0.97 * bound / Math.Sqrt(3), 1.03 * bound / Math.Sqrt(3));
            Assert.InRange(fc.bias!.abs().max().item<float>(), 1e-6, bound);
            using var x = torch.randn(1, 3, 63, 63);
            using var preLogits = model.ForwardHead(model.ForwardFeatures(x), preLogits: true);
            Assert.True(fc.call(preLogits).allclose(model.call(x)), "pre-logits are not the input of classifier.6");
        });

    [Fact]
    public void DropRateSetsBothClassifierDropouts()
    {
        using var custom = ModelZoo.Create("alexnet", new ModelOptions { DropRate = 0.1 });
        var dropouts = custom.named_modules().Where(m => m.module is Dropout).Select(m => (m.name, ((Dropout)m.module).p)).ToList();
        Assert.Equal([("classifier.0", 0.1), ("classifier.3", 0.1)], dropouts);
        using var standard = ModelZoo.Create("alexnet");
        Assert.All(standard.named_modules().Where(m => m.module is Dropout), m => Assert.Equal(0.5, ((Dropout)m.module).p));
    }
}
