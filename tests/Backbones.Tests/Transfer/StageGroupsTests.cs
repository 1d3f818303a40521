using Backbones.Models;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Tests.Transfer;

/// <summary>Stem, stages and head derived from the backbone contract, checked on named keys of several families.</summary>
public sealed class StageGroupsTests
{
    static void AssertStages(Backbone model, StageGroups stages, string[] names, (string Key, int Stage)[] members)
    {
        Assert.Equal(names, stages.Stages.Select(s => s.Name));
        Assert.Equal(Enumerable.Range(0, names.Length), stages.Stages.Select(s => s.Index));
        foreach (var (key, stage) in members) Assert.True(stage == stages.IndexOf(key), $"{key}: stage {stages.IndexOf(key)}, expected {stage}");
        // every parameter in exactly one stage
        var keys = model.named_parameters().Select(p => p.name).ToList();
        Assert.Equal(keys.Order(StringComparer.Ordinal), stages.Stages.SelectMany(s => s.Parameters).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void ResNet50HasStemFourStagesAndHead()
    {
        using var model = ModelZoo.Create("resnet50");
        var stages = StageGroups.Of(model);
        AssertStages(model, stages, ["stem", "layer1", "layer2", "layer3", "layer4", "head"],
        [
            ("conv1.weight", 0), ("bn1.weight", 0), ("bn1.bias", 0),
            ("layer1.0.conv1.weight", 1), ("layer1.0.downsample.1.bias", 1), ("layer2.3.bn3.bias", 2),
            ("layer3.0.downsample.0.weight", 3), ("layer4.2.bn3.weight", 4), ("fc.weight", 5), ("fc.bias", 5),
        ]);
        Assert.Equal(["conv1.weight", "bn1.weight", "bn1.bias"], stages.Stages[0].Parameters);
        Assert.Equal(5, stages.HeadIndex);
    }

    public static TheoryData<string, string[], string[], int[]> Families => new()
    {
        // VGG's feature levels are parameterless max-pools: the first block is the stem and the empty stage is dropped.
        { "vgg16_bn", ["stem", "features.13", "features.23", "features.33", "features.43", "head"],
            ["features.0.weight", "features.4.bias", "features.7.weight", "features.14.weight", "features.41.bias", "classifier.0.weight", "classifier.6.bias"],
            [0, 0, 1, 2, 4, 5, 5] },
        { "mobilenet_v3_large", ["stem", "features.1", "features.3", "features.6", "features.12", "features.16", "head"],
            ["features.0.0.weight", "features.0.1.bias", "features.1.block.0.0.weight", "features.2.block.0.0.weight", "features.7.block.1.1.weight", "features.16.0.weight", "classifier.0.weight", "classifier.3.bias"],
            [0, 0, 1, 2, 4, 5, 6, 6] },
        // efficientnet's last 1×1 convolution (features.8) follows the deepest feature level: head, as timm's conv_head.
        { "efficientnet_b0", ["stem", "features.1", "features.2", "features.3", "features.5", "features.7", "head"],
            ["features.0.0.weight", "features.1.0.block.0.0.weight", "features.4.0.block.0.0.weight", "features.5.2.block.3.1.bias", "features.6.0.block.0.0.weight", "features.8.0.weight", "classifier.1.weight"],
            [0, 1, 4, 4, 5, 6, 6] },
        // DenseNet's transitions join the next block; norm5 follows the last block.
        { "densenet121", ["stem", "features.denseblock1", "features.denseblock2", "features.denseblock3", "features.denseblock4", "head"],
            ["features.conv0.weight", "features.norm0.bias", "features.denseblock1.denselayer1.norm1.weight", "features.transition1.conv.weight", "features.denseblock4.denselayer16.conv2.weight", "features.norm5.weight", "classifier.weight"],
            [0, 0, 1, 2, 4, 5, 5] },
        // ConvNeXt's downsampling layers (features.2, .4, .6) join the stage they feed.
        { "convnext_tiny", ["stem", "features.1", "features.3", "features.5", "features.7", "head"],
            ["features.0.0.weight", "features.0.1.bias", "features.1.0.layer_scale", "features.2.1.weight", "features.5.8.block.5.bias", "features.6.0.weight", "features.7.2.layer_scale", "classifier.0.weight", "classifier.2.bias"],
            [0, 0, 1, 2, 3, 4, 4, 5, 5] },
    };

    [Theory]
    [MemberData(nameof(Families))]
    public void AssignsFeatureStyleFamiliesToStages(string name, string[] stageNames, string[] keys, int[] stages)
    {
        using var model = ModelZoo.Create(name);
        AssertStages(model, StageGroups.Of(model), stageNames, keys.Zip(stages).ToArray());
    }

    [Fact]
    public void StagesAnyModuleByGivenPaths()
    {
        using var net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 3), nn.Conv2d(4, 4, 3), nn.Linear(4, 2));
        var stages = StageGroups.Of(net, ["2", "3"], headModule: "4");
        Assert.Equal(["stem", "2", "3", "head"], stages.Stages.Select(s => s.Name));
        Assert.Equal(["0.weight", "0.bias", "1.weight", "1.bias"], stages.Stages[0].Parameters);
        Assert.Equal(3, stages.IndexOf("4.bias"));

        Assert.Contains("comes before", Assert.Throws<ArgumentException>(() => StageGroups.Of(net, ["3", "2"])).Message);
        Assert.Contains("no module '7'", Assert.Throws<ArgumentException>(() => StageGroups.Of(net, ["2", "7"])).Message);
        Assert.Throws<KeyNotFoundException>(() => stages.IndexOf("9.weight"));
    }
}
