using Backbones.Detection;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Tests.Detection;

/// <summary>
/// MultiScaleRoiAlign against torchvision.ops.MultiScaleRoIAlign on random FPN levels (tests/reference/
/// roi_align_reference.py): inferred scales and level range, each box's level, pooled output and the maps' gradients.
/// </summary>
public class MultiScaleRoiAlignTests
{
    [Fact]
    public void PoolsLikeTorchvisionOnRandomPyramids()
    {
        var (cases, reference) = BoxOpsReference.Load("roi_align_reference.py", "multiscale");
        using var _ = reference;
        var failures = new List<string>();
        var levelsSeen = new HashSet<long>();
        foreach (var c in cases)
        {
            using var scope = NewDisposeScope();
            string name = c.GetProperty("name").GetString()!;
            Tensor T(string key) => BoxOpsReference.Get(reference, $"{name}/{key}");
            var names = c.GetProperty("featmap_names").EnumerateArray().Select(e => e.GetString()!).ToArray();
            var size = c.GetProperty("output_size").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var shapes = c.GetProperty("image_shapes").EnumerateArray().Select(e => (e[0].GetInt32(), e[1].GetInt32())).ToList();
            var features = new Dictionary<string, Tensor>();
            foreach (var key in c.GetProperty("feature_keys").EnumerateArray().Select(e => e.GetString()!))
                features[key] = T($"feature/{key}").detach().clone().requires_grad_(names.Contains(key));
            var boxes = Enumerable.Range(0, shapes.Count).Select(i => T($"boxes/{i}")).ToList();

            var (scales, kMin, kMax) = MultiScaleRoiAlign.InferScales(names.Select(n => (features[n].shape[2], features[n].shape[3])).ToList(), shapes);
            Assert.Equal(c.GetProperty("scales").EnumerateArray().Select(e => e.GetDouble()), scales);
            Assert.Equal(c.GetProperty("k_min").GetInt32(), kMin);
            Assert.Equal(c.GetProperty("k_max").GetInt32(), kMax);
            if (names.Length > 1)
            {
                var levels = MultiScaleRoiAlign.MapLevels(boxes, kMin, kMax);
                Assert.Equal(T("levels").data<long>().ToArray(), levels.data<long>().ToArray());
                foreach (long level in levels.data<long>()) levelsSeen.Add(level + kMin);
            }

            using var pooler = new MultiScaleRoiAlign(names, (size[0], size[1]), c.GetProperty("sampling_ratio").GetInt32());
            var output = pooler.call(features, boxes, shapes);
            Assert.Equal(T("output").shape, output.shape);
            output.backward([T("grad_output")]);
            double forward = BoxOpsReference.MaxAbsDiff(output, T("output"));
            double backward = names.Max(n => BoxOpsReference.MaxAbsDiff(features[n].grad!, T($"grad/{n}")));
            TestContext.Current.TestOutputHelper?.WriteLine($"{name}: forward max |ours - torchvision| {forward:E2}, gradient {backward:E2}");
            if (forward > 1e-5 || backward > 1e-5)
                failures.Add($"{name}: forward max |ours - torchvision| = {forward:G3}, gradient {backward:G3}");
        }
        Assert.Equal(5, cases.Length);
        Assert.Equal([2L, 3, 4, 5], levelsSeen.Order());
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void MapsTheCanonicalBoxToTheCanonicalLevel()
    {
        using var scope = NewDisposeScope();
        // 224 × 224 goes to level 4; halving the side steps down a level, doubling steps up; clamped to [2, 5].
        var boxes = tensor(new float[] { 0, 0, 224, 224, 0, 0, 112, 112, 0, 0, 111, 111, 0, 0, 448, 448, 0, 0, 10, 10, 0, 0, 2000, 2000 }).view(6, 4);
        var levels = MultiScaleRoiAlign.MapLevels([boxes], 2, 5);
        Assert.Equal(new long[] { 2, 1, 0, 3, 0, 3 }, levels.data<long>().ToArray());
    }

    [Fact]
    public void ScalesArePowersOfTwoOfTheTallestImage()
    {
        var (scales, kMin, kMax) = MultiScaleRoiAlign.InferScales([(200, 268), (100, 134), (50, 67), (25, 34)], [(800, 1066), (790, 1070)]);
        Assert.Equal([0.25, 0.125, 0.0625, 0.03125], scales);
        Assert.Equal((2, 5), (kMin, kMax));
        // 38 / 150 = 0.253: the nearest power of two in log scale is a quarter.
        Assert.Equal([0.25], MultiScaleRoiAlign.InferScales([(38, 51)], [(150, 201)]).Scales);
    }

    [Fact]
    public void RefusesMissingFeatureMapsAndEmptyImageLists()
    {
        using var scope = NewDisposeScope();
        using var pooler = new MultiScaleRoiAlign(["0", "1", "2"], 7, 2);
        var features = new Dictionary<string, Tensor> { ["0"] = zeros(1, 2, 16, 16), ["2"] = zeros(1, 2, 4, 4) };
        var missing = Assert.Throws<ArgumentException>(() => pooler.call(features, [zeros(1, 4)], [(64, 64)]));
        Assert.Contains("no feature map named '1' among ['0', '2']", missing.Message);
        features["1"] = zeros(1, 2, 8, 8);
        var noImages = Assert.Throws<ArgumentException>(() => pooler.call(features, [zeros(1, 4)], []));
        Assert.Contains("list of image shapes is empty", noImages.Message);
        Assert.Equal("MultiScaleRoIAlign(featmap_names=['0', '1', '2'], output_size=(7, 7), sampling_ratio=2)", pooler.ToString());
    }
}
