using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision.ops' box functions on [N, 4] (x1, y1, x2, y2) tensors: area, pairwise IoU, clipping to the image,
/// removing small boxes and per-class NMS; same operation order as torchvision so results match bit for bit.
/// </summary>
public static class BoxOps
{
    /// <summary>box_area: (x2 - x1)·(y2 - y1) per box, half precision and small integers widened first.</summary>
    public static Tensor Area(Tensor boxes)
    {
        CheckBoxes(boxes, nameof(boxes));
        using var scope = NewDisposeScope();
        var b = Upcast(boxes);
        return ((b[.., 2] - b[.., 0]) * (b[.., 3] - b[.., 1])).MoveToOuterDisposeScope();
    }

    /// <summary>box_iou: the [N, M] intersection over union of every pair of boxes.</summary>
    public static Tensor Iou(Tensor boxes1, Tensor boxes2)
    {
        CheckBoxes(boxes1, nameof(boxes1));
        CheckBoxes(boxes2, nameof(boxes2));
        using var scope = NewDisposeScope();
        var area1 = Area(boxes1);
        var area2 = Area(boxes2);
        var lt = maximum(boxes1[.., ..2].unsqueeze(1), boxes2[.., ..2]);
        var rb = minimum(boxes1[.., 2..].unsqueeze(1), boxes2[.., 2..]);
        var wh = Upcast(rb - lt).clamp_min(0);
        var inter = wh[.., .., 0] * wh[.., .., 1];
        var union = area1.unsqueeze(1) + area2 - inter;
        return (inter / union).MoveToOuterDisposeScope();
    }

    /// <summary>clip_boxes_to_image: x clamped to [0, width], y to [0, height]; any leading dimensions, last one 4.</summary>
    public static Tensor ClipToImage(Tensor boxes, (int Height, int Width) size)
    {
        if (boxes.dim() == 0 || boxes.shape[^1] != 4)
            throw new ArgumentException($"boxes have shape [{string.Join(", ", boxes.shape)}], expected [..., 4] (x1, y1, x2, y2)", nameof(boxes));
        using var scope = NewDisposeScope();
        var x = boxes[TensorIndex.Ellipsis, TensorIndex.Slice(0, null, 2)].clamp(0, size.Width);
        var y = boxes[TensorIndex.Ellipsis, TensorIndex.Slice(1, null, 2)].clamp(0, size.Height);
        return stack([x, y], boxes.dim()).reshape(boxes.shape).MoveToOuterDisposeScope();
    }

    /// <summary>remove_small_boxes: the int64 indices of the boxes whose width and height are both at least <paramref name="minSize"/>.</summary>
    public static Tensor RemoveSmall(Tensor boxes, double minSize)
    {
        CheckBoxes(boxes, nameof(boxes));
        using var scope = NewDisposeScope();
        var ws = boxes[.., 2] - boxes[.., 0];
        var hs = boxes[.., 3] - boxes[.., 1];
        return ws.ge(minSize).logical_and(hs.ge(minSize)).nonzero().view(-1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// batched_nms: NMS within each category of <paramref name="idxs"/>, never across; the kept indices (int64) by
    /// decreasing score. As torchvision on the CPU: up to 4000 coordinates one NMS over boxes shifted apart per
    /// category, beyond that one NMS per category.
    /// </summary>
    public static Tensor BatchedNms(Tensor boxes, Tensor scores, Tensor idxs, double iouThreshold)
    {
        CheckBoxes(boxes, nameof(boxes));
        if (idxs.dim() != 1 || idxs.shape[0] != boxes.shape[0])
            throw new ArgumentException($"idxs have shape [{string.Join(", ", idxs.shape)}], expected [{boxes.shape[0]}] (one category per box)", nameof(idxs));
        return boxes.numel() > (boxes.device_type == DeviceType.CPU ? 4000 : 20000)
            ? BatchedNmsPerCategory(boxes, scores, idxs, iouThreshold)
            : BatchedNmsByOffsets(boxes, scores, idxs, iouThreshold);
    }

    /// <summary>torchvision's _batched_nms_coordinate_trick: each category's boxes moved past the previous ones, then one NMS.</summary>
    public static Tensor BatchedNmsByOffsets(Tensor boxes, Tensor scores, Tensor idxs, double iouThreshold)
    {
        if (boxes.numel() == 0) return empty(0, ScalarType.Int64, boxes.device);
        using var scope = NewDisposeScope();
        var maxCoordinate = boxes.max();
        var offsets = idxs.to(boxes.dtype) * (maxCoordinate + tensor(1, boxes.dtype, boxes.device));
        return Nms.Apply(boxes + offsets.unsqueeze(1), scores, iouThreshold).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// torchvision's _batched_nms_vanilla: one NMS per category, the kept boxes then sorted by decreasing score
    /// (stably here; torchvision's sort leaves equal scores in an unspecified order).
    /// </summary>
    public static Tensor BatchedNmsPerCategory(Tensor boxes, Tensor scores, Tensor idxs, double iouThreshold)
    {
        using var scope = NewDisposeScope();
        var keepMask = zeros_like(scores, ScalarType.Bool);
        var (categories, _, _) = idxs.unique();
        foreach (long category in categories.cpu().to(ScalarType.Int64).data<long>().ToArray())
        {
            var members = idxs.eq(category).nonzero().view(-1);
            var kept = Nms.Apply(boxes.index_select(0, members), scores.index_select(0, members), iouThreshold);
            keepMask.index_put_(true, members.index_select(0, kept));
        }
        var keep = keepMask.nonzero().view(-1);
        var (_, order) = scores.index_select(0, keep).sort(0, descending: true, stable: true);
        return keep.index_select(0, order).MoveToOuterDisposeScope();
    }

    internal static void CheckBoxes(Tensor boxes, string name)
    {
        if (boxes.dim() != 2 || boxes.shape[1] != 4)
            throw new ArgumentException($"{name} have shape [{string.Join(", ", boxes.shape)}], expected [N, 4] (x1, y1, x2, y2)", name);
    }

    /// <summary>torchvision's _upcast: float16/bfloat16 to float32, 8- and 16-bit integers to int32.</summary>
    static Tensor Upcast(Tensor t) => t.dtype switch
    {
        ScalarType.Float16 or ScalarType.BFloat16 => t.to(ScalarType.Float32),
        ScalarType.Byte or ScalarType.Int8 or ScalarType.Int16 => t.to(ScalarType.Int32),
        _ => t,
    };
}
