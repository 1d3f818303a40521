using Backbones.Tests.Init;
using Backbones.Detection;
using Backbones.Transfer;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Tests.Detection;

/// <summary>
/// The heads' construction without PyTorch: torchvision's initialisation, replacing the keypoint predictor for another
/// number of keypoints, a box-only (Faster R-CNN) RoiHeads, no detections, and refusals of bad targets.
/// </summary>
[Collection(nameof(GlobalGeneratorCollection))] // seeds and draws from libtorch's global generator
public sealed class KeypointRcnnHeadsTests
{
    static OrderedDictionary<string, Tensor> Features(long channels, int images = 1)
    {
        var features = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, side) in new[] { ("0", 16), ("1", 8), ("2", 4), ("3", 2), ("pool", 1) })
            features[name] = randn(images, channels, side, side);
        return features;
    }

    static Tensor Boxes(params float[] corners) => tensor(corners).view(-1, 4);

    [Fact]
    public void ConvolutionsAreKaimingNormalFanOutWithZeroBias()
    {
        manual_seed(3);
        using var head = new KeypointRcnnHeads(256);
        using var predictor = new KeypointRcnnPredictor(512, 17);
        var convs = head.named_children().Where(c => c.module is Conv2d).ToList();
        Assert.Equal(["0", "2", "4", "6", "8", "10", "12", "14"], convs.Select(c => c.name));
        Assert.All(head.named_children().Where(c => c.module is not Conv2d), c => Assert.IsType<ReLU>(c.module));
        foreach (var (name, module) in convs)
        {
            var conv = (Conv2d)module;
            // fan out = out channels · 3 · 3 = 4608: std sqrt(2 / 4608).
            Assert.Equal(Math.Sqrt(2.0 / 4608), conv.weight!.std().item<float>(), 0.0003);
            Assert.Equal(0, conv.bias!.abs().max().item<float>());
        }
        // PyTorch's fan out of a transposed convolution's weight [512, 17, 4, 4] is its dimension 0 · 16 = 8192.
        var weight = predictor.named_parameters().Single(p => p.name == "kps_score_lowres.weight").parameter;
        Assert.Equal([512L, 17, 4, 4], weight.shape);
        Assert.Equal(Math.Sqrt(2.0 / 8192), weight.std().item<float>(), 0.0003);
        Assert.Equal(0, predictor.named_parameters().Single(p => p.name == "kps_score_lowres.bias").parameter.abs().max().item<float>());
    }

    [Theory]
    [InlineData(17)]
    [InlineData(4)]
    [InlineData(16)]
    public void PredictorGradientsEqualTheirFloat64Values(int keypoints)
    {
        // libtorch 2.10's float32 transposed convolution alone is 24% off in its input gradient for 17 output channels.
        manual_seed(5);
        using var predictor = new KeypointRcnnPredictor(512, keypoints);
        using var predictor64 = new KeypointRcnnPredictor(512, keypoints);
        using (no_grad())
            foreach (var ((_, p), (_, p64)) in predictor.named_parameters().Zip(predictor64.named_parameters())) p64.copy_(p);
        predictor64.to(ScalarType.Float64);
        using var scope = NewDisposeScope();
        var x = randn(3, 512, 14, 14).requires_grad_(true);
        var x64 = x.detach().to(ScalarType.Float64).requires_grad_(true);
        var y = predictor.call(x);
        var gradOutput = randn(y.shape);
        y.backward([gradOutput]);
        predictor64.call(x64).backward([gradOutput.to(ScalarType.Float64)]);
        double Relative(Tensor a, Tensor b) => (a.to(ScalarType.Float64) - b).norm().item<double>() / b.norm().item<double>();
        using (no_grad())
        {
            Assert.True(Relative(y, predictor64.call(x64)) < 1e-5);
            using var eval = predictor.call(x.detach());
            Assert.True(Relative(eval, predictor64.call(x64)) < 1e-5);
        }
        double input = Relative(x.grad!, x64.grad!);
        double weight = Relative(predictor.parameters().First().grad!, predictor64.parameters().First().grad!);
        TestContext.Current.TestOutputHelper?.WriteLine($"{keypoints} keypoints: input gradient {input:E2}, weight gradient {weight:E2} relative L2 off float64");
        Assert.True(input < 1e-5, $"input gradient {input:G3} off float64");
        Assert.True(weight < 1e-5, $"weight gradient {weight:G3} off float64");
    }

    [Fact]
    public void ReplacesTheKeypointPredictorForFourKeypoints()
    {
        using var heads = RoiHeads.KeypointRcnn(options: new RoiHeadsOptions { DetectionsPerImage = 3 });
        var report = heads.ReplaceKeypointPredictor(4);
        report.Replaced.Dispose();
        Assert.Equal("keypoint_predictor: KeypointRcnnPredictor (139,281 parameters) replaced by KeypointRcnnPredictor (32,772 parameters)", report.ToString());
        var shapes = heads.OrderedStateDict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        Assert.Equal([512L, 4, 4, 4], shapes["keypoint_predictor.kps_score_lowres.weight"]);
        Assert.Equal("keypoint_predictor.kps_score_lowres.bias", heads.OrderedStateDict().Last().Key);

        heads.eval();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (detections, _) = heads.call(Features(256), [Boxes(4, 4, 40, 50, 10, 12, 30, 60, 20, 2, 62, 30)], [(64L, 64L)], null);
        long n = detections[0]["boxes"].shape[0];
        Assert.InRange(n, 1, 3);
        Assert.Equal([n, 4, 3], detections[0]["keypoints"].shape);
        Assert.Equal([n, 4], detections[0]["keypoints_scores"].shape);

        // The recipe's own step, the transposed convolution alone replaced by path.
        var conv = Surgery.ReplaceModule(heads, "keypoint_predictor.kps_score_lowres", nn.ConvTranspose2d(512, 6, 4, stride: 2, padding: 1));
        conv.Replaced.Dispose();
        var predictor = Assert.IsType<KeypointRcnnPredictor>(heads.named_children().Single(c => c.name == "keypoint_predictor").module);
        Assert.Equal(6, predictor.NumKeypoints);
        Assert.Equal([2L, 6, 56, 56], predictor.call(randn(2, 512, 14, 14)).shape);
    }

    [Fact]
    public void BoxOnlyHeadsReturnNoKeypointsAndTwoLosses()
    {
        using var heads = new RoiHeads(new MultiScaleRoiAlign(["0", "1", "2", "3"], 7, 2), new TwoMlpHead(8 * 7 * 7, 32), new FastRcnnPredictor(32, 3),
            new RoiHeadsOptions { BatchSizePerImage = 16 });
        Assert.False(heads.HasKeypoints);
        Assert.Equal(["box_head.fc6.weight", "box_head.fc6.bias", "box_head.fc7.weight", "box_head.fc7.bias", "box_predictor.cls_score.weight",
            "box_predictor.cls_score.bias", "box_predictor.bbox_pred.weight", "box_predictor.bbox_pred.bias"], heads.OrderedStateDict().Select(kv => kv.Key));
        using var scope = NewDisposeScope();
        var features = Features(8, images: 2);
        // The second image has no proposals at all.
        IReadOnlyList<Tensor> proposals = [Boxes(4, 4, 40, 50, 10, 12, 30, 60), zeros(0, 4)];
        heads.eval();
        using (no_grad())
        {
            var (detections, _) = heads.call(features, proposals, [(64L, 64L), (60L, 64L)], null);
            Assert.Equal(["boxes", "labels", "scores"], detections[0].Keys);
            Assert.Equal(0, detections[1]["boxes"].shape[0]);
            Assert.All(detections[0]["labels"].data<long>().ToArray(), label => Assert.InRange(label, 1, 2));
        }
        heads.train();
        var targets = new List<Dictionary<string, Tensor>>
        {
            new() { ["boxes"] = Boxes(5, 5, 40, 48), ["labels"] = tensor(new long[] { 2 }) },
            new() { ["boxes"] = Boxes(8, 8, 30, 30), ["labels"] = tensor(new long[] { 1 }) },
        };
        var (none, losses) = heads.call(features, proposals, [(64L, 64L), (60L, 64L)], targets);
        Assert.Empty(none);
        Assert.Equal(["loss_classifier", "loss_box_reg"], losses.Keys);
        Assert.All(losses.Values, l => Assert.True(float.IsFinite(l.item<float>()) && l.requires_grad));
    }

    [Fact]
    public void NoDetectionsGiveEmptyKeypoints()
    {
        // No class score can exceed 1: every candidate is dropped, and the keypoint branch runs on no boxes.
        using var heads = RoiHeads.KeypointRcnn(options: new RoiHeadsOptions { ScoreThreshold = 1.0 });
        heads.eval();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (detections, _) = heads.call(Features(256), [Boxes(4, 4, 40, 50, 10, 12, 30, 60)], [(64L, 64L)], null);
        Assert.Equal([0L, 4], detections[0]["boxes"].shape);
        Assert.Equal([0L, 17, 3], detections[0]["keypoints"].shape);
        Assert.Equal([0L, 17], detections[0]["keypoints_scores"].shape);
    }

    [Fact]
    public void LeavesOnlyItsOutputsAlive()
    {
        using var heads = RoiHeads.KeypointRcnn(options: new RoiHeadsOptions { DetectionsPerImage = 2, BatchSizePerImage = 8 });
        using var inputs = NewDisposeScope();
        var features = Features(256, images: 2);
        IReadOnlyList<Tensor> proposals = [Boxes(4, 4, 40, 50, 10, 12, 30, 60, 20, 2, 62, 30), Boxes(0, 0, 20, 20, 30, 30, 60, 50)];
        IReadOnlyList<(long, long)> shapes = [(64L, 64L), (60L, 64L)];
        var targets = new List<Dictionary<string, Tensor>>
        {
            new() { ["boxes"] = Boxes(5, 5, 40, 48), ["labels"] = tensor(new long[] { 1 }), ["keypoints"] = rand(1, 17, 3) * 40 },
            new() { ["boxes"] = zeros(0, 4), ["labels"] = zeros(0, ScalarType.Int64), ["keypoints"] = zeros(0, 17, 3) },
        };
        long Run(bool train)
        {
            heads.train(train);
            using var _ = no_grad();
            var (detections, losses) = heads.call(features, proposals, shapes, train ? targets : null);
            var outputs = detections.SelectMany(d => d.Values).Concat(losses.Values).ToList();
            foreach (var t in outputs) t.Dispose();
            return outputs.Count;
        }
        Run(train: false);
        Run(train: true);
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.Equal(10, Run(train: false));
        Assert.Equal(3, Run(train: true));
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void RefusesBadTargetsNamingWhatIsWrong()
    {
        using var heads = RoiHeads.KeypointRcnn();
        heads.train();
        using var scope = NewDisposeScope();
        var features = Features(256);
        IReadOnlyList<Tensor> proposals = [Boxes(4, 4, 40, 50)];
        IReadOnlyList<(long, long)> shapes = [(64L, 64L)];
        var none = Assert.Throws<ArgumentException>(() => heads.call(features, proposals, shapes, null));
        Assert.Contains("targets are required in training mode", none.Message);
        var target = new Dictionary<string, Tensor> { ["boxes"] = Boxes(5, 5, 40, 48), ["labels"] = tensor(new[] { 1 }) };
        var labels = Assert.Throws<ArgumentException>(() => heads.call(features, proposals, shapes, [target]));
        Assert.Contains("target 0's labels are Int32 [1]; expected int64 [1]", labels.Message);
        target["labels"] = tensor(new long[] { 1 });
        var keypoints = Assert.Throws<ArgumentException>(() => heads.call(features, proposals, shapes, [target]));
        Assert.Contains("target 0 has no \"keypoints\"", keypoints.Message);
        target["keypoints"] = zeros(1, 17, 3, ScalarType.Float64);
        var dtype = Assert.Throws<ArgumentException>(() => heads.call(features, proposals, shapes, [target]));
        Assert.Contains("target 0's keypoints are Float64 [1, 17, 3]; expected float32 [1, K, 3]", dtype.Message);
        var half = Assert.Throws<ArgumentException>(() => new RoiHeads(new MultiScaleRoiAlign(["0"], 7, 2), new TwoMlpHead(8 * 49, 16),
            new FastRcnnPredictor(16, 2), keypointHead: new KeypointRcnnHeads(8, [8])));
        Assert.Contains("needs all of keypointRoiPool, keypointHead and keypointPredictor", half.Message);
    }
}
