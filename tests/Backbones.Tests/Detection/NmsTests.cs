using Backbones.Detection;
using static TorchSharp.torch;

namespace Backbones.Tests.Detection;

/// <summary>Nms against torchvision.ops.nms (tests/reference/box_ops_reference.py): the same indices in the same order.</summary>
public class NmsTests
{
    [Fact]
    public void KeepsWhatTorchvisionKeepsInItsOrder()
    {
        var (cases, reference) = BoxOpsReference.Load("box_ops_reference.py", "box_ops");
        using var _ = reference;
        using var scope = NewDisposeScope();
        int count = 0;
        foreach (var (name, c, T) in BoxOpsTests.Cases("nms", cases, reference))
        {
            var keep = Nms.Apply(T("boxes"), T("scores"), c.GetProperty("iou_threshold").GetDouble());
            TestContext.Current.TestOutputHelper?.WriteLine($"{name}: {keep.numel()} of {T("boxes").shape[0]} kept");
            BoxOpsReference.AssertIdentical(T("keep"), keep, name);
            count++;
        }
        Assert.Equal(6, count);
    }

    [Fact]
    public void SuppressesOnlyAboveTheThreshold()
    {
        using var scope = NewDisposeScope();
        // IoU with the first box: 0.5 exactly, about 0.49, 2/3; the second and third do not overlap and, with equal
        // scores, come in input order.
        var boxes = tensor(new float[] { 0, 0, 10, 10, 0, 0, 10, 5, 0, 5.1f, 10, 10, 0, 0, 10, 15 }).view(4, 4);
        var scores = tensor(new float[] { 0.9f, 0.8f, 0.8f, 0.7f });
        Assert.Equal(new long[] { 0, 1, 2 }, Nms.Apply(boxes, scores, 0.5).data<long>().ToArray());
        Assert.Equal(new long[] { 0 }, Nms.Apply(boxes, scores, 0.45).data<long>().ToArray());
        Assert.Equal(new long[] { 0, 1, 2, 3 }, Nms.Apply(boxes, scores, 0.7).data<long>().ToArray());
        Assert.Equal(0, Nms.Apply(zeros(0, 4), zeros(0), 0.5).numel());
    }

    [Fact]
    public void RefusesMismatchedScores()
    {
        using var scope = NewDisposeScope();
        var count = Assert.Throws<ArgumentException>(() => Nms.Apply(zeros(3, 4), zeros(2), 0.5));
        Assert.Contains("scores have shape [2], expected [3]", count.Message);
        var type = Assert.Throws<ArgumentException>(() => Nms.Apply(zeros(3, 4), zeros(3, ScalarType.Float64), 0.5));
        Assert.Contains("boxes are Float32 but scores Float64", type.Message);
    }
}
