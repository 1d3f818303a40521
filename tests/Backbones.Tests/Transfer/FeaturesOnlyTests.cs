using Backbones.Models;
using Backbones.Tests.Support;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Tests.Transfer;

/// <summary>
/// FeaturesOnly: timm's feature levels (stem first where timm has it) for every family, each map with the channels and
/// stride it claims, out_indices as timm reads them, and maps equal to torchvision's on the same weights.
/// </summary>
public sealed class FeaturesOnlyTests
{
    public static TheoryData<string> Registered => new(ModelZoo.List());

    [Theory]
    [MemberData(nameof(Registered))]
    public void EveryLevelHasTheChannelsAndStrideItClaims(string name)
    {
        using var model = ModelZoo.Create(name);
        model.eval();
        var levels = FeaturesOnly.Levels(model);
        Assert.Equal(model.FeatureInfo, levels.Skip(levels.Count - model.FeatureInfo.Count));
        using var features = FeaturesOnly.Create(model);
        Assert.Equal(levels, features.FeatureInfo);

        var (height, width, exact) = FeatureShapes.InputFor(name);
        using var scope = NewDisposeScope();
        Tensor[] maps;
        using (no_grad()) maps = features.call(randn(1, 3, height, width));
        Assert.Equal(levels.Count, maps.Length);
        long previous = 1;
        foreach (var (level, map) in levels.Zip(maps))
        {
            Assert.Equal([1L, level.Channels], map.shape[..2]);
            Assert.True(level.Reduction > previous, $"{name} {level.Module}: strides must grow");
            previous = level.Reduction;
            FeatureShapes.AssertSpatial($"{name} {level.Module}", map.shape, height, width, level.Reduction, exact);
        }
    }

    /// <summary>Channels and strides of timm's feature_info for these models (its module names differ: act1, blocks.N).</summary>
    [Theory]
    [InlineData("resnet50", "relu layer1 layer2 layer3 layer4", new long[] { 64, 256, 512, 1024, 2048 }, new long[] { 2, 4, 8, 16, 32 })]
    [InlineData("densenet121", "features.relu0 features.denseblock1 features.denseblock2 features.denseblock3 features.denseblock4",
        new long[] { 64, 256, 512, 1024, 1024 }, new long[] { 2, 4, 8, 16, 32 })]
    [InlineData("efficientnet_b0", "features.1 features.2 features.3 features.5 features.7", new long[] { 16, 24, 40, 112, 320 }, new long[] { 2, 4, 8, 16, 32 })]
    [InlineData("mobilenet_v3_large", "features.1 features.3 features.6 features.12 features.16", new long[] { 16, 24, 40, 112, 960 }, new long[] { 2, 4, 8, 16, 32 })]
    [InlineData("convnext_tiny", "features.1 features.3 features.5 features.7", new long[] { 96, 192, 384, 768 }, new long[] { 4, 8, 16, 32 })]
    public void LevelsHaveTimmsChannelsAndStrides(string name, string modules, long[] channels, long[] reductions)
    {
        using var model = ModelZoo.Create(name);
        var levels = FeaturesOnly.Levels(model);
        Assert.Equal(modules.Split(' '), levels.Select(l => l.Module));
        Assert.Equal(channels, levels.Select(l => l.Channels));
        Assert.Equal(reductions, levels.Select(l => l.Reduction));
    }

    [Fact]
    public void OutIndicesPickLevelsAndTheForwardStopsAtTheDeepest()
    {
        using var model = ModelZoo.Create("resnet50");
        model.eval();
        int layer3Calls = 0;
        var modules = model.named_modules().ToDictionary(m => m.name, m => m.module);
        var hook = ((nn.Module<Tensor, Tensor>)modules["layer3"]).register_forward_hook((_, _, _) => { layer3Calls++; return null!; });

        using var features = FeaturesOnly.Create(model, [1, 2]);
        Assert.Equal([new FeatureInfo("layer1", 256, 4), new FeatureInfo("layer2", 512, 8)], features.FeatureInfo);
        Assert.Equal("resnet50 features at out_indices [1, 2]: layer1 (256 channels, stride 4), layer2 (512 channels, stride 8)", features.ToString());
        using var scope = NewDisposeScope();
        Tensor[] maps;
        using (no_grad()) maps = features.call(randn(1, 3, 64, 64));
        Assert.Equal([[1L, 256, 16, 16], [1L, 512, 8, 8]], maps.Select(m => m.shape));
        Assert.Equal(0, layer3Calls);
        hook.remove();

        var all = model.OrderedStateDict().Select(kv => kv.Key).ToList();
        string[] kept = ["conv1.", "bn1.", "layer1.", "layer2."];
        Assert.Equal(all.Where(k => kept.Any(k.StartsWith)), features.OrderedStateDict().Select(kv => kv.Key));
        // All levels: every key but the classifier's, as timm's features_only resnet50 has.
        using var every = FeaturesOnly.Create(model);
        Assert.Equal(all.Where(k => !k.StartsWith("fc.")), every.OrderedStateDict().Select(kv => kv.Key));
        using var last = FeaturesOnly.Create(model, [-2, -1]);
        Assert.Equal(["layer3", "layer4"], last.FeatureInfo.Select(f => f.Module));
    }

    [Fact]
    public void RefusesIndicesOutsideTheLevelsOrOutOfOrder()
    {
        using var model = ModelZoo.Create("resnet18");
        var outside = Assert.Throws<ArgumentOutOfRangeException>(() => FeaturesOnly.Create(model, [1, 5]));
        Assert.StartsWith("out_indices 5 is outside the 5 feature levels of resnet18: relu (64 channels, stride 2), layer1 (64 channels, stride 4), "
            + "layer2 (128 channels, stride 8), layer3 (256 channels, stride 16), layer4 (512 channels, stride 32)", outside.Message);
        var order = Assert.Throws<ArgumentException>(() => FeaturesOnly.Create(model, [2, 1]));
        Assert.StartsWith("out_indices must be increasing; got [2, 1] for resnet18", order.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => FeaturesOnly.Create(model, [-6]));
        Assert.Throws<ArgumentException>(() => FeaturesOnly.Create(model, []));
    }

    [Theory]
    [InlineData("resnet50", "relu layer1 layer2 layer3 layer4")]
    [InlineData("densenet121", "features.relu0 features.denseblock1 features.denseblock2 features.denseblock3 features.denseblock4")]
    [InlineData("efficientnet_b0", "features.1 features.2 features.3 features.5 features.7")]
    [InlineData("squeezenet1_1", "features.1 features.2 features.5 features.12")]
    public void MatchesTorchvisionsStageOutputs(string name, string modules)
    {
        string[] paths = modules.Split(' ');
        using var reference = TorchvisionFeatures.Run(name, 64, paths, batch: 2);
        using var scope = NewDisposeScope();
        using var features = FeaturesOnly.Create(reference.Model(name));
        Assert.Equal(paths, features.FeatureInfo.Select(f => f.Module));
        Tensor[] maps;
        using (no_grad()) maps = features.call(reference.Input);
        foreach (var (path, map) in paths.Zip(maps)) ModelParity.AssertClose($"{name} {path}", reference.Nodes[path], map);
    }
}
