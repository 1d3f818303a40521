using Backbones.Detection;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Tests.Detection;

/// <summary>
/// RoiAlign against torchvision.ops.roi_align (tests/reference/roi_align_reference.py): forward and input gradient
/// on random maps with awkward boxes, both sampling modes, aligned and legacy, float32 and float64.
/// </summary>
public class RoiAlignTests
{
    [Fact]
    public void ForwardAndGradientEqualTorchvision()
    {
        var (cases, reference) = BoxOpsReference.Load("roi_align_reference.py", "roi_align");
        using var _ = reference;
        var failures = new List<string>();
        foreach (var c in cases)
        {
            using var scope = NewDisposeScope();
            string name = c.GetProperty("name").GetString()!;
            Tensor T(string key) => BoxOpsReference.Get(reference, $"{name}/{key}");
            var size = c.GetProperty("output_size").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var input = T("input").detach().clone().requires_grad_(true);
            var output = RoiAlign.Apply(input, T("rois"), (size[0], size[1]), c.GetProperty("spatial_scale").GetDouble(),
                c.GetProperty("sampling_ratio").GetInt32(), c.GetProperty("aligned").GetBoolean());
            output.backward([T("grad_output")]);
            double tolerance = input.dtype == ScalarType.Float64 ? 1e-12 : 1e-5;
            Assert.Equal(T("output").shape, output.shape);
            double forward = MaxAbsDiff(output, T("output")), backward = MaxAbsDiff(input.grad!, T("grad_input"));
            TestContext.Current.TestOutputHelper?.WriteLine($"{name}: forward max |ours - torchvision| {forward:E2}, gradient {backward:E2}");
            if (forward > tolerance || backward > tolerance)
                failures.Add($"{name}: forward max |ours - torchvision| = {forward:G3}, gradient {backward:G3} (tolerance {tolerance:G1})");
        }
        Assert.Equal(12, cases.Length);
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void BoxesPerImageEqualTheRoiTensor()
    {
        using var scope = NewDisposeScope();
        var input = randn(2, 3, 9, 10, generator: new Generator(1));
        var first = tensor(new float[] { 1, 1, 6, 7, 0, 0, 3, 2 }).view(2, 4);
        var second = tensor(new float[] { 2, 3, 9, 8 }).view(1, 4);
        var rois = tensor(new float[] { 0, 1, 1, 6, 7, 0, 0, 0, 3, 2, 1, 2, 3, 9, 8 }).view(3, 5);
        var expected = RoiAlign.Apply(input, rois, (4, 4), 1.0, 2);
        var actual = RoiAlign.Apply(input, [first, second], (4, 4), 1.0, 2);
        Assert.Equal(0.0, MaxAbsDiff(actual, expected));
        Assert.Equal(rois.data<float>().ToArray(), RoiAlign.ToRoiFormat([first, second]).data<float>().ToArray());
    }

    [Fact]
    public void NoRoisGiveAnEmptyOutputAndAZeroGradient()
    {
        using var scope = NewDisposeScope();
        foreach (int ratio in new[] { 2, -1 })
        {
            var input = randn(1, 5, 8, 8).requires_grad_(true);
            var output = RoiAlign.Apply(input, zeros(0, 5), (7, 7), 0.25, ratio);
            Assert.Equal(new long[] { 0, 5, 7, 7 }, output.shape);
            output.sum().backward();
            Assert.Equal(0.0, input.grad!.abs().sum().item<float>());
        }
    }

    [Fact]
    public void AConstantMapPoolsToItsValueInsideTheImage()
    {
        using var scope = NewDisposeScope();
        // Every bilinear sample of a constant map inside the image is that constant, whatever the grid.
        var input = full(new long[] { 1, 2, 16, 16 }, 3.5f);
        var rois = tensor(new float[] { 0, 1.3f, 2.7f, 12.1f, 9.9f, 0, 0, 0, 15, 15, 0, 4, 4, 4.5f, 4.2f }).view(3, 5);
        foreach (int ratio in new[] { 1, 2, -1 })
            Assert.Equal(0.0, MaxAbsDiff(RoiAlign.Apply(input, rois, (5, 3), 1.0, ratio), full(new long[] { 3, 2, 5, 3 }, 3.5f)), 6);
    }

    [Fact]
    public void RefusesBadShapesAndBatchIndices()
    {
        using var scope = NewDisposeScope();
        var input = randn(2, 3, 8, 8);
        var wrongRois = Assert.Throws<ArgumentException>(() => RoiAlign.Apply(input, zeros(4, 4), (7, 7)));
        Assert.Contains("[4, 4], expected [K, 5]", wrongRois.Message);
        var wrongInput = Assert.Throws<ArgumentException>(() => RoiAlign.Apply(randn(3, 8, 8), zeros(1, 5), (7, 7)));
        Assert.Contains("[3, 8, 8], expected [N, C, H, W]", wrongInput.Message);
        var wrongBatch = Assert.Throws<ArgumentException>(() => RoiAlign.Apply(input, tensor(new float[] { 2, 0, 0, 4, 4 }).view(1, 5), (7, 7)));
        Assert.Contains("batch index 2, but the input holds 2 image(s)", wrongBatch.Message);
        var wrongSize = Assert.Throws<ArgumentException>(() => RoiAlign.Apply(input, zeros(1, 5), (0, 7)));
        Assert.Contains("0×7 must be positive", wrongSize.Message);
        var wrongType = Assert.Throws<ArgumentException>(() => RoiAlign.Apply(input.to(ScalarType.Int32), zeros(1, 5), (7, 7)));
        Assert.Contains("Int32", wrongType.Message);
        var wrongList = Assert.Throws<ArgumentException>(() => RoiAlign.ToRoiFormat([zeros(2, 4), zeros(2, 5)]));
        Assert.Contains("boxes of image 1 have shape [2, 5], expected [L, 4]", wrongList.Message);
    }

    static double MaxAbsDiff(Tensor a, Tensor b) => BoxOpsReference.MaxAbsDiff(a, b);
}
