using Backbones.Models;
using Backbones.Tests.Support;

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
    public void ResetClassifierGivesAFreshHeadAndKeepsEverythingElse() => BackboneChecks.ResetClassifierKeepsTheRest("resnet18", 10, 64);
}
