using Backbones.Models;
using Backbones.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;

namespace Backbones.Tests.Models;

/// <summary>VGG 11/13/16/19 with and without BatchNorm against torchvision: keys, eval outputs at each max-pool, train-mode statistics.</summary>
public sealed class VggTests
{
    // torchvision's indices of the max-pools in `features` (conv[, bn], relu per layer, one pool per stage).
    public static TheoryData<string, int, int[]> Variants => new()
    {
        { "vgg11", 224, [2, 5, 10, 15, 20] },
        { "vgg11_bn", 64, [3, 7, 14, 21, 28] },
        { "vgg13", 64, [4, 9, 14, 19, 24] },
        { "vgg13_bn", 64, [6, 13, 20, 27, 34] },
        { "vgg16", 64, [4, 9, 16, 23, 30] },
        { "vgg16_bn", 64, [6, 13, 23, 33, 43] },
        { "vgg19", 64, [4, 9, 18, 27, 36] },
        { "vgg19_bn", 64, [6, 13, 26, 39, 52] },
    };

    static string[] Pools(int[] indices) => indices.Select(i => $"features.{i}").ToArray();

    [Theory]
    [MemberData(nameof(Variants))]
    public void MatchesTorchvision(string model, int size, int[] pools) =>
        ModelParity.Check(model, size, Pools(pools), batch: size == 224 ? 2 : 1);

    [Theory]
    [MemberData(nameof(Variants))]
    public void FeatureInfoIsEachMaxPool(string model, int size, int[] pools)
    {
        _ = size;
        using var net = ModelZoo.Create(model);
        Assert.Equal(Pools(pools), net.FeatureInfo.Select(f => f.Module));
        Assert.Equal([64L, 128, 256, 512, 512], net.FeatureInfo.Select(f => f.Channels));
        Assert.Equal([2L, 4, 8, 16, 32], net.FeatureInfo.Select(f => f.Reduction));
        BackboneChecks.FeatureInfoMatchesOutputs(net, 64, exact: true);
    }

    [Fact]
    public void ResetClassifierGivesTenOutputsAndKeepsTheRest() =>
        BackboneChecks.ResetClassifierKeepsTheRest("vgg11_bn", 10, 32, model =>
        {
            var fc = (Linear)model.named_modules().Single(m => m.name == "classifier.6").module;
            Assert.Equal([10L, 4096], fc.weight!.shape);
            Assert.InRange(fc.weight.std().item<float>(), 0.0095, 0.0105); // normal(0, 0.01) as torchvision
            Assert.Equal(0, fc.bias!.abs().max().item<float>());
            using var x = torch.randn(1, 3, 32, 32);
            using var preLogits = model.ForwardHead(model.ForwardFeatures(x), preLogits: true);
            Assert.True(fc.call(preLogits).allclose(model.call(x)), "pre-logits are not the input of classifier.6");
        });

    [Fact]
    public void DropRateSetsBothClassifierDropouts()
    {
        using var standard = ModelZoo.Create("vgg11");
        using var custom = ModelZoo.Create("vgg11", new ModelOptions { DropRate = 0.2 });
        Assert.Equal([0.5, 0.5], Dropouts(standard));
        Assert.Equal([0.2, 0.2], Dropouts(custom));
    }

    static double[] Dropouts(Backbone model) =>
        model.named_modules().Where(m => m.module is Dropout).Select(m => (m.name, ((Dropout)m.module).p))
            .Select(d => { Assert.Contains(d.name, new[] { "classifier.2", "classifier.5" }); return d.p; }).ToArray();
}
