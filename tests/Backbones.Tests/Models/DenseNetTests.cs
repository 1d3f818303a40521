using Backbones.Models;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Tests.Models;

/// <summary>DenseNet against torchvision: keys, eval outputs per block, train-mode statistics, old checkpoint spellings.</summary>
public sealed class DenseNetTests
{
    static readonly string[] Blocks = ["features.denseblock1", "features.denseblock2", "features.denseblock3", "features.denseblock4", "features.norm5"];

    [Theory]
    [InlineData("densenet121", 224)]
    [InlineData("densenet161", 64)]
    [InlineData("densenet169", 64)]
    [InlineData("densenet201", 64)]
    public void MatchesTorchvision(string model, int size) => ModelParity.Check(model, size, Blocks, batch: 1);

    [Fact]
    public void OldCheckpointSpellingLoadsThroughTorchvisionsRule()
    {
        PyTorch.Require();
        string folder = TempFolder.Create("densenet-old");
        var (code, output, error) = PyTorch.RunScript("densenet_old_keys.py", folder, "densenet121", "--size", "64");
        Assert.True(code == 0, output + error);

        using var scope = NewDisposeScope();
        using var old = StateDict.Load(Path.Combine(folder, "densenet121.old.pth"));
        using var io = Checkpoint.Load(Path.Combine(folder, "densenet121.old_io.pth"));
        var root = (PyDict)io.Root!;
        Assert.Contains("features.denseblock1.denselayer1.norm.1.weight", old.Keys);

        using var net = ModelZoo.Create("densenet121");
        var renames = net.RemapCheckpointKeys(old);
        Assert.Equal(580, renames.Count); // 58 dense layers × (two BatchNorms × 4 + two convolutions)
        Assert.Contains(("features.denseblock1.denselayer1.norm.1.weight", "features.denseblock1.denselayer1.norm1.weight"), renames);
        Assert.Contains(("features.denseblock4.denselayer16.conv.2.weight", "features.denseblock4.denselayer16.conv2.weight"), renames);
        var torchvisionKeys = ((List<object?>)root["remapped_keys"]!).Cast<string>().Order(StringComparer.Ordinal);
        Assert.Equal(torchvisionKeys, old.Keys.Order(StringComparer.Ordinal));

        // The old files predate num_batches_tracked: as in PyTorch, the counters are set to 0 and a strict load succeeds.
        var report = net.LoadStateDict(old, strict: true);
        Assert.Empty(report.Missing);
        Assert.All(report.Defaulted, k => Assert.EndsWith(".num_batches_tracked", k));
        Assert.Equal(net.OrderedStateDict().Count(kv => kv.Key.EndsWith(".num_batches_tracked", StringComparison.Ordinal)), report.Defaulted.Count);

        net.eval();
        using (no_grad())
            ModelParity.AssertClose("densenet121 from old keys", (Tensor)root["logits"]!, net.call((Tensor)root["input"]!));
    }

    [Fact]
    public void RemapLeavesCurrentSpellingAlone()
    {
        using var net = ModelZoo.Create("densenet121");
        using var state = new StateDict();
        foreach (var (key, value) in net.OrderedStateDict()) state.Add(key, value.clone());
        Assert.Empty(net.RemapCheckpointKeys(state));
        Assert.Equal(net.OrderedStateDict().Select(kv => kv.Key), state.Keys);
    }

    [Theory]
    [InlineData("densenet121", new long[] { 256, 512, 1024, 1024 })]
    [InlineData("densenet161", new long[] { 384, 768, 2112, 2208 })]
    [InlineData("densenet169", new long[] { 256, 512, 1280, 1664 })]
    [InlineData("densenet201", new long[] { 256, 512, 1792, 1920 })]
    public void FeatureInfoIsWhatTheBlocksEmit(string name, long[] channels)
    {
        using var net = ModelZoo.Create(name);
        net.eval();
        Assert.Equal(["features.denseblock1", "features.denseblock2", "features.denseblock3", "features.denseblock4"], net.FeatureInfo.Select(f => f.Module));
        Assert.Equal(channels, net.FeatureInfo.Select(f => f.Channels));
        Assert.Equal([4L, 8, 16, 32], net.FeatureInfo.Select(f => f.Reduction));
        Assert.Equal(channels[^1], net.NumFeatures);

        BackboneChecks.FeatureInfoMatchesOutputs(net, 64, exact: true);
    }

    /// <summary>
    /// DropRate is torchvision's drop_rate: dropout on each dense layer's new channels in training only. (Not in the
    /// parity check: dropped channels feed the next layers' BatchNorms, and PyTorch's masks are not libtorch 2.10's.)
    /// </summary>
    [Fact]
    public void DropRateDropsDenseLayerOutputsOnlyInTraining()
    {
        using var plain = ModelZoo.Create("densenet121");
        using var dropping = ModelZoo.Create("densenet121", new ModelOptions { DropRate = 0.5 });
        using var state = new StateDict();
        foreach (var (key, value) in plain.OrderedStateDict()) state.Add(key, value.clone());
        dropping.LoadStateDict(state);
        plain.eval();
        dropping.eval();
        using var _ = no_grad();
        using var x = randn(1, 3, 64, 64);
        using (var expected = plain.call(x))
        using (var actual = dropping.call(x))
            ModelParity.AssertClose("eval logits with DropRate 0.5", expected, actual, 0);

        DenseNet.DenseLayer FirstLayer(Backbone net) =>
            (DenseNet.DenseLayer)net.named_modules().Single(m => m.name == "features.denseblock1.denselayer1").module;
        var layer = FirstLayer(dropping);
        var reference = FirstLayer(plain);
        using var input = randn(2, 64, 16, 16);
        layer.eval();
        using (var kept = layer.call(input))
            Assert.Equal(0, kept.eq(0).sum().item<long>());
        layer.train();
        reference.train(); // the same batch statistics, no dropout
        using var dropped = layer.call(input);
        using var whole = reference.call(input);
        Assert.Equal(0, whole.eq(0).sum().item<long>());
        double zeros = dropped.eq(0).to_type(ScalarType.Float64).mean().item<double>();
        Assert.InRange(zeros, 0.45, 0.55); // 16384 values, p = 0.5
        using var survivors = dropped.ne(0);
        ModelParity.AssertClose("surviving values scaled by 1/(1-p)", whole.masked_select(survivors) * 2, dropped.masked_select(survivors));
    }

    [Fact]
    public void ResetClassifierGivesTenFreshOutputsOnTheSameFeatures()
    {
        using var net = ModelZoo.Create("densenet121");
        net.eval();
        using var x = randn(1, 3, 64, 64);
        using var _ = no_grad();
        using var before = net.ForwardHead(net.ForwardFeatures(x), preLogits: true);
        var keysBefore = net.OrderedStateDict().Select(kv => kv.Key).ToList();

        net.ResetClassifier(10);

        Assert.Equal(10, net.NumClasses);
        Assert.Equal(keysBefore, net.OrderedStateDict().Select(kv => kv.Key));
        var state = net.state_dict();
        Assert.Equal([10L, 1024], state["classifier.weight"].shape);
        Assert.Equal(0, state["classifier.bias"].abs().sum().item<float>()); // torchvision zeroes the classifier's bias
        using var after = net.ForwardHead(net.ForwardFeatures(x), preLogits: true);
        ModelParity.AssertClose("pre-logits after reset", before, after, 0);
        using var logits = net.call(x);
        using var expected = before.matmul(state["classifier.weight"].t());
        Assert.Equal([1L, 10], logits.shape);
        ModelParity.AssertClose("logits of the new classifier", expected, logits);
        Assert.Equal(10, ((TorchSharp.Modules.Linear)net.named_modules().Single(m => m.name == net.ClassifierPath).module).out_features);
    }
}
