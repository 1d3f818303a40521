using Backbones.Models;
using Backbones.Tests.Support;
using Backbones.Transfer;
using static TorchSharp.torch;

namespace Backbones.Tests.Transfer;

/// <summary>
/// BackboneTrunk: every model cut before its head gives maps and vectors of the width and stride it claims, keeps the
/// model's keys but the head's, and equals torchvision's truncations on the same weights.
/// </summary>
public sealed class TruncationTests
{
    public static TheoryData<string> Registered => new(ModelZoo.List());

    [Theory]
    [InlineData("resnet18", 512, 120)]
    [InlineData("resnet50", 2048, 318)]
    public void ResNetTrunksGiveTheirWidthAtStride32(string name, long channels, int keptKeys)
    {
        using var model = ModelZoo.Create(name);
        model.eval();
        using var spatial = BackboneTrunk.Create(model);
        using var pooled = BackboneTrunk.Create(model, pooled: true);
        using var scope = NewDisposeScope();
        var x = randn(2, 3, 64, 96);
        using (no_grad())
        {
            Assert.Equal([2L, channels, 2, 3], spatial.call(x).shape);
            Assert.Equal([2L, channels], pooled.call(x).shape);
        }
        Assert.Equal((channels, 32L), (spatial.OutChannels, spatial.Stride));
        Assert.Equal((channels, 32L), (pooled.OutChannels, pooled.Stride));
        Assert.Equal(
            $"{name} truncated to pooled vectors of {channels} (from maps at stride 32); kept {keptKeys} state-dict keys, dropped the head's 2: fc.weight, fc.bias",
            pooled.Report.ToString());
        Assert.Equal($"{name} truncated to maps of {channels} channels at stride 32; kept {keptKeys} state-dict keys, dropped the head's 2: fc.weight, fc.bias",
            spatial.Report.ToString());
    }

    [Theory]
    [MemberData(nameof(Registered))]
    public void EveryTrunkHasTheChannelsAndStrideItClaimsAndNoHead(string name)
    {
        using var model = ModelZoo.Create(name);
        model.eval();
        using var spatial = BackboneTrunk.Create(model);
        using var pooled = BackboneTrunk.Create(model, pooled: true);
        Assert.Equal((spatial.OutChannels, spatial.Stride), (pooled.OutChannels, pooled.Stride));

        var (height, width, exact) = FeatureShapes.InputFor(name);
        using var scope = NewDisposeScope();
        var x = randn(1, 3, height, width);
        Tensor map, vector;
        using (no_grad())
        {
            map = spatial.call(x);
            vector = pooled.call(x);
        }
        Assert.Equal([1L, spatial.OutChannels], map.shape[..2]);
        FeatureShapes.AssertSpatial(name, map.shape, height, width, spatial.Stride, exact);
        Assert.Equal([1L, pooled.OutChannels], vector.shape);

        var all = model.OrderedStateDict().Select(kv => kv.Key).ToList();
        var kept = spatial.OrderedStateDict().Select(kv => kv.Key).ToList();
        Assert.Equal(all.Where(kept.Contains), kept);
        Assert.Equal(all.Except(kept), spatial.Report.DroppedKeys);
        string head = model.ClassifierPath.Split('.')[0] + ".";
        Assert.All(spatial.Report.DroppedKeys, k => Assert.StartsWith(head, k));
        Assert.Contains(model.ClassifierPath + ".weight", spatial.Report.DroppedKeys);
        Assert.DoesNotContain(model.ClassifierPath + ".weight", pooled.OrderedStateDict().Select(kv => kv.Key));

        // Where the classifier's input is the pooled map, the pooled trunk is the model's pre-logits, exactly (the spatial
        // trunk's map is ForwardFeatures').
        if (model is ResNet or DenseNet or MobileNetV2 or EfficientNet or ConvNeXt)
        {
            Assert.Equal(model.NumFeatures, pooled.OutChannels);
            using (no_grad()) Assert.True(vector.equal(model.ForwardHead(map, preLogits: true)).all().item<bool>());
        }
    }

    [Fact]
    public void ResNet50PooledTrunkEqualsTorchvisionsChildrenButFc()
    {
        using var reference = TorchvisionFeatures.Run("resnet50", 64, [], spatial: "children", pooled: "children", batch: 2);
        using var pooled = BackboneTrunk.Create(ModelZoo.Create("resnet50"), pooled: true);
        var strict = Assert.Throws<InvalidOperationException>(() => pooled.LoadStateDict(reference.Weights, strict: true));
        Assert.EndsWith("unexpected: fc.weight, fc.bias", strict.Message);

        var report = pooled.LoadStateDict(reference.Weights, strict: false);
        Assert.Equal(["fc.weight", "fc.bias"], report.Unexpected);
        Assert.Equal(pooled.Report.DroppedKeys, report.Unexpected);
        Assert.Empty(report.Missing);
        Assert.Empty(report.Mismatched);
        Assert.Equal(318, report.Loaded.Count);

        pooled.eval();
        using var spatial = BackboneTrunk.Create(pooled.Model);
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            ModelParity.AssertClose("resnet50 pooled trunk", reference.Pooled!, pooled.call(reference.Input));
            ModelParity.AssertClose("resnet50 spatial trunk", reference.Spatial!, spatial.call(reference.Input));
        }
    }

    [Theory]
    [InlineData("densenet121", "input:classifier")]
    [InlineData("convnext_tiny", "input:classifier.2")]
    [InlineData("mobilenet_v3_small", "gap")]
    [InlineData("squeezenet1_0", "gap")]
    public void TrunksMatchTorchvisionsFeaturesAndPooledVectors(string name, string pooledReference)
    {
        using var reference = TorchvisionFeatures.Run(name, 64, [], spatial: "features", pooled: pooledReference, batch: 2);
        using var spatial = BackboneTrunk.Create(reference.Model(name));
        using var pooled = BackboneTrunk.Create(spatial.Model, pooled: true);
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            ModelParity.AssertClose($"{name} spatial trunk", reference.Spatial!, spatial.call(reference.Input));
            ModelParity.AssertClose($"{name} pooled trunk", reference.Pooled!, pooled.call(reference.Input));
        }
    }
}
