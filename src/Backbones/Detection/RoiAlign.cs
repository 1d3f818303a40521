using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision.ops.roi_align: each output bin of each region is the mean of bilinear samples of the feature map,
/// computed for all regions, bins and samples at once as one sparse-by-dense product, so autograd gives the backward.
/// </summary>
public static class RoiAlign
{
    /// <summary>
    /// Pools <paramref name="rois"/> ([K, 5]: batch index, x1, y1, x2, y2 in image coordinates) from
    /// <paramref name="input"/> ([N, C, H, W]) to [K, C, height, width]. <paramref name="samplingRatio"/> &gt; 0 takes
    /// that many samples per bin side, otherwise ceil(roi size / output size); <paramref name="aligned"/> shifts the
    /// boxes by half a pixel (Detectron2) instead of forcing regions to at least 1×1. The gradient reaches
    /// <paramref name="input"/> only, as torchvision's.
    /// </summary>
    public static Tensor Apply(Tensor input, Tensor rois, (int Height, int Width) outputSize, double spatialScale = 1.0,
        int samplingRatio = -1, bool aligned = false)
    {
        Check(input, rois, outputSize);
        using var scope = NewDisposeScope();
        var (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3]);
        var (ph, pw) = outputSize;
        long k = rois.shape[0];
        rois = rois.detach().to(input.dtype, input.device);
        var batch = rois[.., 0].to(ScalarType.Int64); // C++'s (int) cast truncates, as to(int64) does
        long lowest = k == 0 ? 0 : batch.min().item<long>(), highest = k == 0 ? 0 : batch.max().item<long>();
        if (lowest < 0 || highest >= n)
            throw new ArgumentException($"RoiAlign: a roi has batch index {(lowest < 0 ? lowest : highest)}, but the input holds {n} image(s)", nameof(rois));

        // Region geometry in the input's precision, with torchvision's operation order.
        double offset = aligned ? 0.5 : 0.0;
        var startW = rois[.., 1] * spatialScale - offset;
        var startH = rois[.., 2] * spatialScale - offset;
        var roiW = rois[.., 3] * spatialScale - offset - startW;
        var roiH = rois[.., 4] * spatialScale - offset - startH;
        if (!aligned)
        {
            roiW = roiW.clamp_min(1.0);
            roiH = roiH.clamp_min(1.0);
        }
        var binH = roiH / ph;
        var binW = roiW / pw;

        // Channels last, images stacked: row b·H·W + y·W + x of this matrix is the feature vector at (b, y, x). Made
        // contiguous so that the product reads whole rows (a strided view would read one float per cache line).
        var features = input.permute(0, 2, 3, 1).contiguous().view(n * h * w, c);
        var geometry = new Geometry(startH, startW, binH, binW, batch, ph, pw, h, w);
        Tensor result;
        // No rois still pass through the (empty) product, so the input gets its zero gradient as in torchvision.
        if (samplingRatio > 0 || k == 0)
            result = Pool(features, geometry, arange(k, ScalarType.Int64, input.device), Math.Max(samplingRatio, 1), Math.Max(samplingRatio, 1));
        else
            result = PoolAdaptive(features, geometry, binH.ceil().to(ScalarType.Int64), binW.ceil().to(ScalarType.Int64), c);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>The same with boxes given per image ([L, 4] each), as torchvision's list form.</summary>
    public static Tensor Apply(Tensor input, IReadOnlyList<Tensor> boxes, (int Height, int Width) outputSize, double spatialScale = 1.0,
        int samplingRatio = -1, bool aligned = false)
    {
        using var scope = NewDisposeScope();
        return Apply(input, ToRoiFormat(boxes), outputSize, spatialScale, samplingRatio, aligned).MoveToOuterDisposeScope();
    }

    /// <summary>Per-image [L, 4] boxes as one [K, 5] tensor whose first column is the image index.</summary>
    public static Tensor ToRoiFormat(IReadOnlyList<Tensor> boxes)
    {
        if (boxes.Count == 0) throw new ArgumentException("RoiAlign: the list of boxes is empty (one [L, 4] tensor per image expected)", nameof(boxes));
        for (int i = 0; i < boxes.Count; i++)
            if (boxes[i].dim() != 2 || boxes[i].shape[1] != 4)
                throw new ArgumentException($"RoiAlign: boxes of image {i} have shape [{string.Join(", ", boxes[i].shape)}], expected [L, 4]", nameof(boxes));
        using var scope = NewDisposeScope();
        var ids = boxes.Select((b, i) => full([b.shape[0], 1], i, b.dtype, b.device)).ToList();
        return cat([cat(ids, 0), cat(boxes.ToList(), 0)], 1).MoveToOuterDisposeScope();
    }

    static void Check(Tensor input, Tensor rois, (int Height, int Width) outputSize)
    {
        if (input.dim() != 4)
            throw new ArgumentException($"RoiAlign: input has shape [{string.Join(", ", input.shape)}], expected [N, C, H, W]", nameof(input));
        if (input.dtype != ScalarType.Float32 && input.dtype != ScalarType.Float64)
            throw new ArgumentException($"RoiAlign: input is {input.dtype}; float32 and float64 are supported", nameof(input));
        if (rois.dim() != 2 || rois.shape[1] != 5)
            throw new ArgumentException($"RoiAlign: rois have shape [{string.Join(", ", rois.shape)}], expected [K, 5] (batch index, x1, y1, x2, y2)", nameof(rois));
        if (outputSize.Height <= 0 || outputSize.Width <= 0)
            throw new ArgumentException($"RoiAlign: output size {outputSize.Height}×{outputSize.Width} must be positive", nameof(outputSize));
    }

    /// <summary>Per-region start, bin size and image index, [K] each, and the output and input sizes.</summary>
    sealed record Geometry(Tensor StartH, Tensor StartW, Tensor BinH, Tensor BinW, Tensor Batch, int PooledH, int PooledW, long H, long W);

    /// <summary>Adaptive sampling: regions grouped by their sample grid, each group pooled at once.</summary>
    static Tensor PoolAdaptive(Tensor features, Geometry g, Tensor gridH, Tensor gridW, long channels)
    {
        long k = gridH.shape[0];
        // A grid side of zero or less samples nothing and torchvision's output is zero there.
        var empty = gridH.le(0).logical_or(gridW.le(0));
        long widest = gridW.max().item<long>() + 1;
        var key = gridH * widest + gridW;
        var keys = key.masked_select(empty.logical_not()).unique().output.cpu().data<long>().ToArray();
        var order = new List<Tensor>();
        var pooled = new List<Tensor>();
        foreach (long value in keys)
        {
            var members = key.eq(value).logical_and(empty.logical_not()).nonzero().view(-1);
            order.Add(members);
            pooled.Add(Pool(features, g, members, (int)(value / widest), (int)(value % widest)));
        }
        var zeroed = empty.nonzero().view(-1);
        if (zeroed.shape[0] > 0)
        {
            order.Add(zeroed);
            pooled.Add(zeros([zeroed.shape[0], channels, g.PooledH, g.PooledW], features.dtype, features.device));
        }
        if (pooled.Count == 1) return pooled[0];
        // Back to the regions' order; index_select keeps the graph to the features.
        var inverse = cat(order, 0).argsort();
        return cat(pooled, 0).index_select(0, inverse);
    }

    /// <summary>
    /// Pools the regions <paramref name="members"/>, all with a gridH × gridW sample grid per bin: a sparse matrix
    /// with one row per output bin holds each sample's four bilinear weights at their feature rows.
    /// </summary>
    static Tensor Pool(Tensor features, Geometry g, Tensor members, int gridH, int gridW)
    {
        using var scope = NewDisposeScope();
        long k = members.shape[0];
        var (rowsY, weightsY) = Axis(g.StartH.index_select(0, members), g.BinH.index_select(0, members), g.PooledH, gridH, g.H);
        var (colsX, weightsX) = Axis(g.StartW.index_select(0, members), g.BinW.index_select(0, members), g.PooledW, gridW, g.W);
        // Entries laid out [K, PH, PW, gridH, 2, gridW, 2], rows of the matrix in order.
        var yIndex = rowsY.view(k, g.PooledH, 1, gridH, 2, 1, 1);
        var xIndex = colsX.view(k, 1, g.PooledW, 1, 1, gridW, 2);
        var image = (g.Batch.index_select(0, members) * (g.H * g.W)).view(k, 1, 1, 1, 1, 1, 1);
        var columns = (image + yIndex * g.W + xIndex).reshape(-1);
        var values = (weightsY.view(k, g.PooledH, 1, gridH, 2, 1, 1) * weightsX.view(k, 1, g.PooledW, 1, 1, gridW, 2)).reshape(-1);
        long bins = k * g.PooledH * g.PooledW;
        long perBin = 4L * gridH * gridW;
        var rows = arange(bins, ScalarType.Int64, features.device).repeat_interleave(perBin);
        var matrix = sparse_coo_tensor(stack([rows, columns]), values, [bins, features.shape[0]]);
        var sums = mm(matrix, features) / (double)(gridH * gridW);
        return sums.view(k, g.PooledH, g.PooledW, features.shape[1]).permute(0, 3, 1, 2).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Sample coordinates along one axis ([K, pooled, grid]) and their two neighbours: feature indices and bilinear
    /// weights, [K, pooled, grid, 2] each, with torchvision's rules: outside [-1, size] a sample weighs nothing,
    /// below 0 it is clamped to 0, from size - 1 on it sits on the last row.
    /// </summary>
    static (Tensor Index, Tensor Weight) Axis(Tensor start, Tensor bin, int pooled, int grid, long size)
    {
        var dtype = start.dtype;
        var device = start.device;
        var p = arange(pooled, dtype, device).view(1, pooled, 1);
        var i = (arange(grid, dtype, device) + 0.5).view(1, 1, grid);
        var b = bin.view(-1, 1, 1);
        // start + p·bin + (i + ½)·bin / grid, summed in that order as the C++ kernel does.
        var coordinate = start.view(-1, 1, 1) + p * b + i * b / (double)grid;
        var inside = coordinate.ge(-1.0).logical_and(coordinate.le((double)size)).to(dtype);
        coordinate = coordinate.clamp_min(0.0);
        var low = coordinate.floor().to(ScalarType.Int64);
        var atEdge = low.ge(size - 1);
        var last = full_like(low, size - 1);
        low = where(atEdge, last, low);
        var high = where(atEdge, last, low + 1);
        coordinate = where(atEdge, low.to(dtype), coordinate);
        var towardHigh = coordinate - low.to(dtype);
        var towardLow = 1.0 - towardHigh;
        return (stack([low, high], -1), stack([towardLow * inside, towardHigh * inside], -1));
    }
}
