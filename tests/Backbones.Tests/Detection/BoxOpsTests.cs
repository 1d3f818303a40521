using System.Text.Json;
using Backbones.Detection;
using Backbones.Serialization;
using static TorchSharp.torch;

namespace Backbones.Tests.Detection;

/// <summary>
/// BoxOps against torchvision.ops (tests/reference/box_ops_reference.py): area, IoU, clipping, small-box removal and
/// batched NMS on the same inputs, bit for bit.
/// </summary>
public class BoxOpsTests
{
    internal static IEnumerable<(string Name, JsonElement Case, Func<string, Tensor> Tensor)> Cases(string op, JsonElement[] cases, Checkpoint reference) =>
        cases.Where(c => c.GetProperty("op").GetString() == op).Select(c =>
        {
            string name = c.GetProperty("name").GetString()!;
            return (name, c, (Func<string, Tensor>)(key => BoxOpsReference.Get(reference, $"{name}/{key}")));
        });

    [Fact]
    public void AreaIouClipAndRemoveSmallEqualTorchvision()
    {
        var (cases, reference) = BoxOpsReference.Load("box_ops_reference.py", "box_ops");
        using var _ = reference;
        using var scope = NewDisposeScope();
        int count = 0;
        foreach (var (name, _, T) in Cases("area", cases, reference))
        {
            BoxOpsReference.AssertIdentical(T("area"), BoxOps.Area(T("boxes")), name);
            count++;
        }
        foreach (var (name, _, T) in Cases("iou", cases, reference))
        {
            BoxOpsReference.AssertIdentical(T("iou"), BoxOps.Iou(T("boxes1"), T("boxes2")), name);
            count++;
        }
        foreach (var (name, c, T) in Cases("clip", cases, reference))
        {
            var size = c.GetProperty("size");
            BoxOpsReference.AssertIdentical(T("clipped"), BoxOps.ClipToImage(T("boxes"), (size[0].GetInt32(), size[1].GetInt32())), name);
            count++;
        }
        foreach (var (name, c, T) in Cases("remove_small", cases, reference))
        {
            BoxOpsReference.AssertIdentical(T("keep"), BoxOps.RemoveSmall(T("boxes"), c.GetProperty("min_size").GetDouble()), name);
            count++;
        }
        Assert.Equal(9, count);
    }

    [Fact]
    public void BatchedNmsEqualsTorchvisionOnBothPaths()
    {
        var (cases, reference) = BoxOpsReference.Load("box_ops_reference.py", "box_ops");
        using var _ = reference;
        using var scope = NewDisposeScope();
        int count = 0;
        foreach (var (name, c, T) in Cases("batched_nms", cases, reference))
        {
            double threshold = c.GetProperty("iou_threshold").GetDouble();
            // The dispatch (offsets up to 4000 coordinates, per category beyond) and both ways on both sizes.
            BoxOpsReference.AssertIdentical(T("keep"), BoxOps.BatchedNms(T("boxes"), T("scores"), T("idxs"), threshold), name);
            BoxOpsReference.AssertIdentical(T("offsets"), BoxOps.BatchedNmsByOffsets(T("boxes"), T("scores"), T("idxs"), threshold), name + " by offsets");
            BoxOpsReference.AssertIdentical(T("per_category"), BoxOps.BatchedNmsPerCategory(T("boxes"), T("scores"), T("idxs"), threshold), name + " per category");
            count++;
        }
        Assert.Equal(2, count);
    }

    [Fact]
    public void BatchedNmsNeverSuppressesAcrossCategories()
    {
        using var scope = NewDisposeScope();
        // Two identical boxes: one category keeps the better, two categories keep both.
        var boxes = tensor(new float[] { 0, 0, 10, 10, 0, 0, 10, 10 }).view(2, 4);
        var scores = tensor(new float[] { 0.6f, 0.9f });
        Assert.Equal(new long[] { 1 }, BoxOps.BatchedNms(boxes, scores, tensor(new long[] { 3, 3 }), 0.5).data<long>().ToArray());
        Assert.Equal(new long[] { 1, 0 }, BoxOps.BatchedNms(boxes, scores, tensor(new long[] { 3, 4 }), 0.5).data<long>().ToArray());
        Assert.Equal(0, BoxOps.BatchedNms(zeros(0, 4), zeros(0), zeros(0, ScalarType.Int64), 0.5).numel());
    }

    [Fact]
    public void IouOfKnownBoxes()
    {
        using var scope = NewDisposeScope();
        var a = tensor(new float[] { 0, 0, 10, 10 }).view(1, 4);
        var b = tensor(new float[] { 5, 0, 15, 10, 20, 20, 30, 30, 0, 0, 10, 10 }).view(3, 4);
        // Half overlapping: 50 / 150; disjoint: 0; identical: 1.
        Assert.Equal(new[] { 50f / 150, 0, 1 }, BoxOps.Iou(a, b).data<float>().ToArray());
    }

    [Fact]
    public void RefusesBoxesThatAreNotNBy4()
    {
        using var scope = NewDisposeScope();
        var e = Assert.Throws<ArgumentException>(() => BoxOps.Iou(zeros(3, 5), zeros(2, 4)));
        Assert.Contains("boxes1 have shape [3, 5], expected [N, 4]", e.Message);
        var clip = Assert.Throws<ArgumentException>(() => BoxOps.ClipToImage(zeros(3, 2), (5, 5)));
        Assert.Contains("[3, 2], expected [..., 4]", clip.Message);
        var idxs = Assert.Throws<ArgumentException>(() => BoxOps.BatchedNms(zeros(3, 4), zeros(3), zeros(2, ScalarType.Int64), 0.5));
        Assert.Contains("idxs have shape [2], expected [3]", idxs.Message);
    }
}
