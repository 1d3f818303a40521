using Backbones.Models;
using Backbones.Tests.Support;
using Backbones.Transfer;

namespace Backbones.Tests.Models;

/// <summary>ResNet, ResNeXt and Wide ResNet against torchvision: keys, eval outputs per stage, train-mode statistics.</summary>
public sealed class ResNetTests
{
    static readonly string[] Stages = ["layer1", "layer2", "layer3", "layer4"];

    [Theory]
    [InlineData("resnet18", 224)]
    [InlineData("resnet50", 224)]
    [InlineData("resnet34", 64)]
    [InlineData("resnet101", 64)]
    [InlineData("resnet152", 64)]
    [InlineData("resnext50_32x4d", 64)]
    [InlineData("resnext101_32x8d", 64)]
    [InlineData("resnext101_64x4d", 64)]
    [InlineData("wide_resnet50_2", 64)]
    [InlineData("wide_resnet101_2", 64)]
    public void MatchesTorchvision(string model, int size) => ModelParity.Check(model, size, Stages, batch: size == 224 ? 2 : 1);

    [Theory]
    [InlineData(new[] { false, false, true }, 16)]
    [InlineData(new[] { false, true, true }, 8)]
    public void DilatedStagesMatchTorchvision(bool[] dilate, long outputStride)
    {
        var options = new ModelOptions { ReplaceStrideWithDilation = dilate };
        using var model = ModelZoo.Create("resnet50", options);
        Assert.Equal(outputStride, model.FeatureInfo[^1].Reduction);
        string json = "{\"replace_stride_with_dilation\": [" + string.Join(", ", dilate.Select(d => d ? "true" : "false")) + "]}";
        ModelParity.Check("resnet50", 96, Stages, batch: 1, options, json, name: $"resnet50_os{outputStride}");
    }

    [Fact]
    public void ResetClassifierGivesAFreshHeadAndKeepsEverythingElse()
    {
        using var model = ModelZoo.Create("resnet18");
        var before = model.OrderedStateDict().ToDictionary(kv => kv.Key, kv => Bytes.Of(kv.Value));
        model.ResetClassifier(10);
        var after = model.OrderedStateDict();
        Assert.Equal(before.Keys, after.Select(kv => kv.Key)); // same keys, same order
        foreach (var (key, value) in after.Where(kv => !kv.Key.StartsWith("fc.", StringComparison.Ordinal)))
            Assert.Equal(before[key], Bytes.Of(value));
        Assert.Equal(new long[] { 10, 512 }, after.Single(kv => kv.Key == "fc.weight").Value.shape);
        Assert.Equal(10, model.NumClasses);
        using var x = TorchSharp.torch.randn(2, 3, 64, 64);
        using var y = model.call(x);
        Assert.Equal(new long[] { 2, 10 }, y.shape);
    }
}
