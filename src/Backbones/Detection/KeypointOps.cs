using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// Keypoint R-CNN's keypoint functions of torchvision's roi_heads.py: ground-truth keypoints to heatmap targets, the
/// keypoint loss, and heatmaps back to image keypoints (per-box bicubic resize and argmax), with torchvision's arithmetic.
/// </summary>
public static class KeypointOps
{
    /// <summary>
    /// keypoints_to_heatmap: for keypoints [R, K, 3] (x, y, visibility) and their regions [R, 4], the linear index
    /// y·size + x of each keypoint's heatmap cell (0 where invalid) and whether it is valid (visible and inside), both int64 [R, K].
    /// </summary>
    public static (Tensor Heatmaps, Tensor Valid) KeypointsToHeatmap(Tensor keypoints, Tensor rois, long heatmapSize)
    {
        if (keypoints.dim() != 3 || keypoints.shape[2] != 3 || rois.dim() != 2 || rois.shape[1] != 4 || keypoints.shape[0] != rois.shape[0])
            throw new ArgumentException($"KeypointsToHeatmap: keypoints [{string.Join(", ", keypoints.shape)}] and rois [{string.Join(", ", rois.shape)}] "
                + "must be [R, K, 3] and [R, 4]", nameof(keypoints));
        using var scope = NewDisposeScope();
        var offsetX = rois[.., 0].unsqueeze(1);
        var offsetY = rois[.., 1].unsqueeze(1);
        // Python's `size / tensor` is tensor.reciprocal() * size; dividing would round differently before the floor.
        var scaleX = (rois[.., 2] - rois[.., 0]).reciprocal().mul(heatmapSize).unsqueeze(1);
        var scaleY = (rois[.., 3] - rois[.., 1]).reciprocal().mul(heatmapSize).unsqueeze(1);
        var x = keypoints[TensorIndex.Ellipsis, 0];
        var y = keypoints[TensorIndex.Ellipsis, 1];
        // A keypoint on the region's right or bottom edge belongs to the last cell.
        var xBoundary = x.eq(rois[.., 2].unsqueeze(1));
        var yBoundary = y.eq(rois[.., 3].unsqueeze(1));
        var xi = ((x - offsetX) * scaleX).floor().to(ScalarType.Int64).masked_fill(xBoundary, heatmapSize - 1);
        var yi = ((y - offsetY) * scaleY).floor().to(ScalarType.Int64).masked_fill(yBoundary, heatmapSize - 1);
        var validLocation = xi.ge(0).logical_and(yi.ge(0)).logical_and(xi.lt(heatmapSize)).logical_and(yi.lt(heatmapSize));
        var visible = keypoints[TensorIndex.Ellipsis, 2].gt(0);
        var valid = validLocation.logical_and(visible).to(ScalarType.Int64);
        var heatmaps = (yi * heatmapSize + xi) * valid;
        return (heatmaps.MoveToOuterDisposeScope(), valid.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// keypointrcnn_loss: cross entropy of each valid keypoint's heatmap logits ([N, K, S, S]) against its target cell,
    /// from each image's positive <paramref name="proposals"/> and the ground-truth keypoints ([G, K, 3]) their
    /// <paramref name="matchedIdxs"/> point at; zero (keeping the graph) when no keypoint is valid.
    /// </summary>
    public static Tensor KeypointRcnnLoss(Tensor keypointLogits, IReadOnlyList<Tensor> proposals, IReadOnlyList<Tensor> gtKeypoints, IReadOnlyList<Tensor> matchedIdxs)
    {
        if (keypointLogits.dim() != 4 || keypointLogits.shape[2] != keypointLogits.shape[3])
            throw new ArgumentException($"KeypointRcnnLoss: keypoint logits have shape [{string.Join(", ", keypointLogits.shape)}], expected [N, K, S, S] (square heatmaps)", nameof(keypointLogits));
        if (proposals.Count != gtKeypoints.Count || proposals.Count != matchedIdxs.Count)
            throw new ArgumentException($"KeypointRcnnLoss: {proposals.Count} images of proposals, {gtKeypoints.Count} of keypoints, {matchedIdxs.Count} of matches", nameof(gtKeypoints));
        long n = keypointLogits.shape[0], k = keypointLogits.shape[1], size = keypointLogits.shape[2];
        using var scope = NewDisposeScope();
        var heatmaps = new List<Tensor>();
        var valid = new List<Tensor>();
        for (int i = 0; i < proposals.Count; i++)
        {
            var (h, v) = KeypointsToHeatmap(gtKeypoints[i].index_select(0, matchedIdxs[i]), proposals[i], size);
            heatmaps.Add(h.view(-1));
            valid.Add(v.view(-1));
        }
        var targets = cat(heatmaps, 0);
        var validIndices = cat(valid, 0).nonzero().view(-1);
        if (targets.numel() == 0 || validIndices.numel() == 0)
            return (keypointLogits.sum() * 0).MoveToOuterDisposeScope();
        var logits = keypointLogits.view(n * k, size * size).index_select(0, validIndices);
        return nn.functional.cross_entropy(logits, targets.index_select(0, validIndices)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// heatmaps_to_keypoints: each region's heatmaps [R, K, S, S] resized bicubically to the region's size (rounded up,
    /// at least 1), each keypoint at its maximum's cell centre mapped back to the image. Returns the keypoints [R, K, 3]
    /// (x, y, 1) and their scores [R, K] (the maximum logit), float32.
    /// </summary>
    public static (Tensor Keypoints, Tensor Scores) HeatmapsToKeypoints(Tensor maps, Tensor rois)
    {
        if (maps.dim() != 4 || rois.dim() != 2 || rois.shape[1] != 4 || maps.shape[0] != rois.shape[0])
            throw new ArgumentException($"HeatmapsToKeypoints: maps [{string.Join(", ", maps.shape)}] and rois [{string.Join(", ", rois.shape)}] must be [R, K, S, S] and [R, 4]", nameof(maps));
        long r = rois.shape[0], k = maps.shape[1];
        using var scope = NewDisposeScope();
        var offsetX = rois[.., 0];
        var offsetY = rois[.., 1];
        var widths = (rois[.., 2] - rois[.., 0]).clamp_min(1);
        var heights = (rois[.., 3] - rois[.., 1]).clamp_min(1);
        var widthsCeil = widths.ceil();
        var heightsCeil = heights.ceil();
        if (r == 0)
            return (zeros(0, k, 3, ScalarType.Float32, maps.device).MoveToOuterDisposeScope(), zeros(0, k, ScalarType.Float32, maps.device).MoveToOuterDisposeScope());

        // The resize is per region (each has its own size); regions of one size go through interpolate together,
        // which gives each plane what a call of its own would.
        var sizes = stack([heightsCeil, widthsCeil], 1).to(ScalarType.Int64).cpu().data<long>().ToArray();
        var position = empty(r, k, ScalarType.Int64, maps.device);
        var score = empty(r, k, maps.dtype, maps.device);
        var mapWidth = empty(r, ScalarType.Int64, maps.device);
        foreach (var group in Enumerable.Range(0, (int)r).GroupBy(i => (H: sizes[2 * i], W: sizes[2 * i + 1])))
        {
            using var inner = NewDisposeScope();
            var members = tensor(group.Select(i => (long)i).ToArray(), ScalarType.Int64).to(maps.device);
            var (h, w) = group.Key;
            var resized = nn.functional.interpolate(maps.index_select(0, members).reshape(-1, 1, maps.shape[2], maps.shape[3]), size: [h, w],
                mode: InterpolationMode.Bicubic, align_corners: false).view(members.shape[0], k, h * w);
            var best = resized.argmax(2);
            position.index_copy_(0, members, best);
            score.index_copy_(0, members, resized.gather(2, best.unsqueeze(2)).squeeze(2));
            mapWidth.index_fill_(0, members, w);
        }
        var xInt = position.remainder(mapWidth.unsqueeze(1));
        var yInt = (position - xInt).div(mapWidth.unsqueeze(1), rounding_mode: RoundingMode.floor);
        // torchvision multiplies float32 coordinates by 0-dim corrections and offsets, which therefore act in float32.
        var widthCorrection = (widths / widthsCeil).to(ScalarType.Float32).unsqueeze(1);
        var heightCorrection = (heights / heightsCeil).to(ScalarType.Float32).unsqueeze(1);
        var x = (xInt.to(ScalarType.Float32) + 0.5) * widthCorrection + offsetX.to(ScalarType.Float32).unsqueeze(1);
        var y = (yInt.to(ScalarType.Float32) + 0.5) * heightCorrection + offsetY.to(ScalarType.Float32).unsqueeze(1);
        var keypoints = stack([x, y, ones(r, k, ScalarType.Float32, maps.device)], 2);
        return (keypoints.MoveToOuterDisposeScope(), score.to(ScalarType.Float32).MoveToOuterDisposeScope());
    }

    /// <summary>keypointrcnn_inference: <see cref="HeatmapsToKeypoints"/> for each image's boxes, the heatmaps [sum of boxes, K, S, S] split in order.</summary>
    public static (Tensor[] Keypoints, Tensor[] Scores) KeypointRcnnInference(Tensor maps, IReadOnlyList<Tensor> boxes)
    {
        var counts = boxes.Select(b => b.shape[0]).ToArray();
        if (counts.Sum() != maps.shape[0])
            throw new ArgumentException($"KeypointRcnnInference: {maps.shape[0]} heatmaps for {counts.Sum()} boxes", nameof(boxes));
        var keypoints = new Tensor[boxes.Count];
        var scores = new Tensor[boxes.Count];
        using var scope = NewDisposeScope();
        var parts = maps.split(counts, 0);
        for (int i = 0; i < boxes.Count; i++)
        {
            var (kp, s) = HeatmapsToKeypoints(parts[i], boxes[i]);
            keypoints[i] = kp.MoveToOuterDisposeScope();
            scores[i] = s.MoveToOuterDisposeScope();
        }
        return (keypoints, scores);
    }
}
