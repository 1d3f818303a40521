using Backbones.Detection;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Init;
using Backbones.Tests.Support;
using Backbones.Transfer;
using static TorchSharp.torch;

namespace Backbones.Tests.Detection;

/// <summary>
/// RegionProposalNetwork against torchvision 0.14's (tests/reference/rpn_reference.py): Keypoint R-CNN's rpn.* keys,
/// eval proposals, training losses, proposals and gradients from the same seed, empty targets, pre-0.13 head keys.
/// </summary>
[Collection(nameof(GlobalGeneratorCollection))] // seeds and draws from libtorch's global generator
public sealed class RpnTests
{
    static readonly Lazy<string> Folder = new(() => PyTorch.WriteReference("rpn_reference.py", "rpn"));

    sealed record Reference(Checkpoint Io) : IDisposable
    {
        public PyDict Root => (PyDict)Io.Root!;
        public Tensor this[string key] => Root.TryGetValue(key, out var v) && v is Tensor t ? t : throw new KeyNotFoundException($"no '{key}' in rpn.io.pth");
        public void Dispose() => Io.Dispose();
    }

    static Reference Load()
    {
        PyTorch.Require();
        return new Reference(Checkpoint.Load(Path.Combine(Folder.Value, "rpn.io.pth")));
    }

    static string File(string name) => Path.Combine(Folder.Value, name);

    static RegionProposalNetwork LoadedRpn(string weights = "rpn.weights.pth")
    {
        var rpn = RegionProposalNetwork.ForFpn();
        using var state = StateDict.Load(File(weights));
        Assert.True(rpn.LoadStateDict(state, strict: true).IsComplete);
        return rpn;
    }

    static (ImageList Images, OrderedDictionary<string, Tensor> Features) Inputs(Reference reference)
    {
        var batch = reference["batch"].data<long>().ToArray();
        var sizes = reference["image_sizes"];
        var imageSizes = Enumerable.Range(0, (int)sizes.shape[0]).Select(i => (sizes[i, 0].item<long>(), sizes[i, 1].item<long>())).ToList();
        var features = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (string level in new[] { "0", "1", "2", "3", "pool" }) features[level] = reference[$"features/{level}"];
        return (new ImageList(zeros(batch), imageSizes), features);
    }

    /// <summary>
    /// Same count and the same boxes within 1e-3 px, matched one to one as sets (NMS on equal scores may order them
    /// differently); how many sit at the same position is reported.
    /// </summary>
    static void AssertSameBoxes(string what, Tensor expected, Tensor actual)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape), $"{what}: ours [{string.Join(", ", actual.shape)}], torchvision [{string.Join(", ", expected.shape)}]");
        using var scope = NewDisposeScope();
        var distance = (expected.unsqueeze(1) - actual.detach().unsqueeze(0)).abs().amax(2);
        var (nearest, index) = distance.min(1);
        double worst = nearest.max().item<float>();
        long distinct = index.unique().Item1.numel();
        long inPlace = index.eq(arange(index.shape[0])).sum().item<long>();
        TestContext.Current.TestOutputHelper?.WriteLine($"{what}: {expected.shape[0]} boxes, max |ours - torchvision| {worst:E2} px, {inPlace} in the same position");
        Assert.True(worst <= 1e-3, $"{what}: a torchvision box is {worst:G4} px from every one of ours");
        Assert.Equal(expected.shape[0], distinct);
    }

    static void AssertRelative(string what, Tensor expected, Tensor actual, double tolerance)
    {
        double e = expected.item<float>(), a = actual.item<float>();
        double relative = Math.Abs(a - e) / Math.Abs(e);
        TestContext.Current.TestOutputHelper?.WriteLine($"{what}: ours {a:G9}, torchvision {e:G9}, relative {relative:E2}");
        Assert.True(relative <= tolerance, $"{what}: ours {a:G9}, torchvision {e:G9} (relative {relative:E2} > {tolerance:E0})");
    }

    [Fact]
    public void KeysAndShapesEqualKeypointRcnnsRpn()
    {
        using var reference = Load();
        using var rpn = RegionProposalNetwork.ForFpn();
        var expected = ((List<object?>)reference.Root["keys"]!).Cast<List<object?>>()
            .Select(k => $"{k[0]} {k[1]} [{string.Join(", ", ((List<object?>)k[2]!).Cast<long>())}]").ToList();
        var ours = rpn.OrderedStateDict().Select(kv => $"rpn.{kv.Key} {TorchDType.Of(kv.Value.dtype).Name} [{string.Join(", ", kv.Value.shape)}]").ToList();
        Assert.Equal(expected, ours);
    }

    [Fact]
    public void EvalProposalsEqualTorchvisions()
    {
        using var reference = Load();
        using var rpn = LoadedRpn();
        rpn.eval();
        var (images, features) = Inputs(reference);
        using var _ = images;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (boxes, losses) = rpn.call(images, features, null);
        Assert.Empty(losses);
        Assert.Equal(2, boxes.Count);
        for (int i = 0; i < boxes.Count; i++) AssertSameBoxes($"eval image {i}", reference[$"eval/boxes/{i}"], boxes[i]);
    }

    [Theory]
    [InlineData("train")]
    [InlineData("train_empty")]
    public void TrainingLossesProposalsAndGradientsEqualTorchvisionsFromTheSameSeed(string name)
    {
        using var reference = Load();
        using var rpn = LoadedRpn();
        rpn.train();
        var (images, features) = Inputs(reference);
        using var _ = images;
        using var scope = NewDisposeScope();
        var targets = Enumerable.Range(0, 2).Select(i => new Dictionary<string, Tensor>
        {
            ["boxes"] = reference[$"{name}/boxes/{i}"],
            ["labels"] = reference[$"{name}/labels/{i}"],
            ["keypoints"] = reference[$"{name}/keypoints/{i}"],
        }).ToList();
        if (name == "train_empty") Assert.Equal(0, targets[1]["boxes"].shape[0]);

        random.manual_seed(reference[$"{name}/seed"].item<long>());
        var (proposals, losses) = rpn.call(images, features, targets);
        Assert.Equal(["loss_objectness", "loss_rpn_box_reg"], losses.Keys.Order());
        AssertRelative($"{name} loss_objectness", reference[$"{name}/loss_objectness"], losses["loss_objectness"], 1e-4);
        AssertRelative($"{name} loss_rpn_box_reg", reference[$"{name}/loss_rpn_box_reg"], losses["loss_rpn_box_reg"], 1e-4);
        for (int i = 0; i < proposals.Count; i++) AssertSameBoxes($"{name} proposals of image {i}", reference[$"{name}/proposals/{i}"], proposals[i]);

        (losses["loss_objectness"] + losses["loss_rpn_box_reg"]).backward();
        foreach (var (parameterName, parameter) in rpn.named_parameters())
            ModelParity.AssertClose($"{name} gradient of {parameterName}", reference[$"{name}/grad/{parameterName}"], parameter.grad!, 1e-4);
    }

    [Fact]
    public void LoadsPre013HeadKeysAsTorchvisionDoes()
    {
        using var reference = Load();
        using var rpn = RegionProposalNetwork.ForFpn();
        using var legacy = StateDict.Load(File("rpn_legacy.weights.pth"));
        Assert.True(legacy.ContainsKey("head.conv.weight"));
        var renames = rpn.RemapCheckpointKeys(legacy);
        Assert.Equal([("head.conv.weight", "head.conv.0.0.weight"), ("head.conv.bias", "head.conv.0.0.bias")], renames);
        Assert.True(rpn.LoadStateDict(legacy, strict: true).IsComplete);
        rpn.eval();
        var (images, features) = Inputs(reference);
        using var _ = images;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (boxes, _) = rpn.call(images, features, null);
        for (int i = 0; i < boxes.Count; i++) AssertSameBoxes($"legacy keys, eval image {i}", reference[$"eval/boxes/{i}"], boxes[i]);

        // Under a detector's prefix, with no _metadata for rpn.head (so treated as old): the same two renames.
        using var prefixed = StateDict.Load(File("rpn_legacy.weights.pth"));
        prefixed.AddPrefix("rpn.");
        Assert.Equal([("rpn.head.conv.weight", "rpn.head.conv.0.0.weight"), ("rpn.head.conv.bias", "rpn.head.conv.0.0.bias")],
            rpn.RemapCheckpointKeys(prefixed, "rpn."));
        // A current checkpoint (head version 2) is left alone.
        using var current = StateDict.Load(File("rpn.weights.pth"));
        Assert.Empty(rpn.RemapCheckpointKeys(current));
    }

    [Fact]
    public void HeadStartsAsTorchvisionsNormalWeightsAndZeroBiases()
    {
        using var head = new RpnHead(256, 3);
        var named = head.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.Equal(["conv.0.0.weight", "conv.0.0.bias", "cls_logits.weight", "cls_logits.bias", "bbox_pred.weight", "bbox_pred.bias"], named.Keys);
        foreach (var (name, p) in named)
            if (name.EndsWith("bias")) Assert.Equal(0, p.abs().max().item<float>());
            else Assert.InRange(p.std().item<float>(), 0.0095, 0.0105);
    }

    [Fact]
    public void RefusesBadTargetsAndMismatchedHeadsNamingThem()
    {
        using var rpn = RegionProposalNetwork.ForFpn(16, new RpnOptions { PreNmsTopNTrain = 50, PostNmsTopNTrain = 20 });
        rpn.train();
        using var scope = NewDisposeScope();
        using var images = new ImageList(zeros(1, 3, 64, 64), [(64L, 60L)]);
        var features = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (level, size) in new[] { ("0", 16), ("1", 8), ("2", 4), ("3", 2), ("pool", 1) }) features[level] = randn(1, 16, size, size);

        var none = Assert.Throws<ArgumentException>(() => rpn.call(images, features, null));
        Assert.Contains("targets are required in training mode", none.Message);
        var noBoxes = Assert.Throws<ArgumentException>(() => rpn.call(images, features, [new() { ["labels"] = ones(1, ScalarType.Int64) }]));
        Assert.Contains("target 0 has no \"boxes\"", noBoxes.Message);
        var shape = Assert.Throws<ArgumentException>(() => rpn.call(images, features, [new() { ["boxes"] = zeros(3, 5) }]));
        Assert.Contains("[3, 5]", shape.Message);
        var count = Assert.Throws<ArgumentException>(() => rpn.call(images, features, [new() { ["boxes"] = zeros(0, 4) }, new() { ["boxes"] = zeros(0, 4) }]));
        Assert.Contains("2 targets for 1 images", count.Message);

        // A background-only image trains: no positives, so the box loss is exactly 0; every proposal lies inside the image.
        var (proposals, losses) = rpn.call(images, features, [new() { ["boxes"] = zeros(0, 4) }]);
        Assert.Equal(0, losses["loss_rpn_box_reg"].item<float>());
        Assert.True(losses["loss_objectness"].item<float>() > 0);
        Assert.InRange(proposals[0].shape[0], 1, 20);
        Assert.True(proposals[0][.., 2].le(60).all().item<bool>() && proposals[0][.., 3].le(64).all().item<bool>());

        var mismatch = Assert.Throws<ArgumentException>(() => new RegionProposalNetwork(AnchorGenerator.ForFpn(), new RpnHead(16, 9)));
        Assert.Contains("[3, 3, 3, 3, 3] anchors per location", mismatch.Message);
        var channels = Assert.Throws<ArgumentException>(() => rpn.Head.call([randn(1, 8, 4, 4)]));
        Assert.Contains("N×16×H×W", channels.Message);
        var thresholds = Assert.Throws<ArgumentOutOfRangeException>(() => RegionProposalNetwork.ForFpn(16, new RpnOptions { BgIouThresh = 0.8 }));
        Assert.Contains("BgIouThresh 0.8 is above FgIouThresh 0.7", thresholds.Message);
        var topN = Assert.Throws<ArgumentOutOfRangeException>(() => RegionProposalNetwork.ForFpn(16, new RpnOptions { PostNmsTopNTest = 0 }));
        Assert.Contains("PostNmsTopNTest", topN.Message);
    }
}
