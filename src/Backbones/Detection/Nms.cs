using System.Numerics;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision.ops.nms: greedy non-maximum suppression, the CPU kernel's loop in C# over the boxes sorted by score
/// (stable, descending), with its arithmetic in the boxes' precision so that the same boxes are kept.
/// </summary>
public static class Nms
{
    /// <summary>
    /// The int64 indices of the boxes ([N, 4], x1 y1 x2 y2) kept, by decreasing score: a box is dropped when its IoU
    /// with a kept, higher-scoring box is greater than <paramref name="iouThreshold"/>; equal scores keep input order.
    /// </summary>
    public static Tensor Apply(Tensor boxes, Tensor scores, double iouThreshold)
    {
        if (boxes.dim() != 2 || boxes.shape[1] != 4)
            throw new ArgumentException($"Nms: boxes have shape [{string.Join(", ", boxes.shape)}], expected [N, 4] (x1, y1, x2, y2)", nameof(boxes));
        if (scores.dim() != 1 || scores.shape[0] != boxes.shape[0])
            throw new ArgumentException($"Nms: scores have shape [{string.Join(", ", scores.shape)}], expected [{boxes.shape[0]}] (one per box)", nameof(scores));
        if (boxes.dtype != scores.dtype)
            throw new ArgumentException($"Nms: boxes are {boxes.dtype} but scores {scores.dtype}; they must have the same type", nameof(scores));
        if (boxes.shape[0] == 0) return empty(0, ScalarType.Int64, boxes.device);
        using var scope = NewDisposeScope();
        var order = scores.sort(0, descending: true, stable: true).Indices.cpu().data<long>().ToArray();
        var columns = boxes.detach().cpu().t().contiguous();
        long[] kept = boxes.dtype switch
        {
            ScalarType.Float32 => Greedy(columns.data<float>().ToArray(), order, iouThreshold),
            ScalarType.Float64 => Greedy(columns.data<double>().ToArray(), order, iouThreshold),
            _ => throw new ArgumentException($"Nms: boxes are {boxes.dtype}; float32 and float64 are supported", nameof(boxes)),
        };
        return tensor(kept, ScalarType.Int64).to(boxes.device).MoveToOuterDisposeScope();
    }

    /// <summary>The C++ kernel's loop; <paramref name="columns"/> holds all x1, then all y1, x2, y2.</summary>
    static long[] Greedy<T>(T[] columns, long[] order, double iouThreshold) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = order.Length;
        var x1 = columns.AsSpan(0, n);
        var y1 = columns.AsSpan(n, n);
        var x2 = columns.AsSpan(2 * n, n);
        var y2 = columns.AsSpan(3 * n, n);
        var areas = new T[n];
        for (int i = 0; i < n; i++) areas[i] = (x2[i] - x1[i]) * (y2[i] - y1[i]);
        var suppressed = new bool[n];
        var keep = new List<long>();
        for (int a = 0; a < n; a++)
        {
            int i = (int)order[a];
            if (suppressed[i]) continue;
            keep.Add(i);
            T ix1 = x1[i], iy1 = y1[i], ix2 = x2[i], iy2 = y2[i], iarea = areas[i];
            for (int b = a + 1; b < n; b++)
            {
                int j = (int)order[b];
                if (suppressed[j]) continue;
                // std::max / std::min as the kernel calls them: max(a, b) = a < b ? b : a.
                T xx1 = ix1 < x1[j] ? x1[j] : ix1;
                T yy1 = iy1 < y1[j] ? y1[j] : iy1;
                T xx2 = x2[j] < ix2 ? x2[j] : ix2;
                T yy2 = y2[j] < iy2 ? y2[j] : iy2;
                T w = T.Zero < xx2 - xx1 ? xx2 - xx1 : T.Zero;
                T h = T.Zero < yy2 - yy1 ? yy2 - yy1 : T.Zero;
                T inter = w * h;
                T overlap = inter / (iarea + areas[j] - inter);
                if (double.CreateTruncating(overlap) > iouThreshold) suppressed[j] = true;
            }
        }
        return keep.ToArray();
    }
}
