using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// One detection in an image, as torchvision's detectors report it: the box (x1, y1, x2, y2 in original-image pixels),
/// its score (0–1), its category and, for a keypoint detector, its keypoints in the detector's keypoint order.
/// </summary>
public sealed record DetectedObject(
    (float X1, float Y1, float X2, float Y2) Box,
    float Score,
    int LabelIndex,
    string Label,
    IReadOnlyList<DetectedObjectKeypoint> Keypoints)
{
    /// <summary>
    /// The detections of one image from torchvision's result dictionary (<c>boxes</c> N×4, <c>labels</c> N, <c>scores</c>
    /// N, and for keypoint detectors <c>keypoints</c> N×K×3 with <c>keypoints_scores</c> N×K), those with a score of at
    /// least <paramref name="minScore"/>, in the detector's order (by falling score). A keypoint's score is its
    /// <c>keypoints_scores</c> entry; torchvision's third keypoint column (visibility, always 1) is not kept.
    /// </summary>
    public static IReadOnlyList<DetectedObject> From(IReadOnlyDictionary<string, Tensor> result, IReadOnlyList<string> categories,
        IReadOnlyList<string> keypointNames, float minScore = 0)
    {
        using var scope = NewDisposeScope();
        var boxes = Floats(Get(result, "boxes"), "boxes", -1, 4);
        long n = boxes.Length / 4;
        var scores = Floats(Get(result, "scores"), "scores", n);
        var labelTensor = Get(result, "labels");
        if (labelTensor.dtype != ScalarType.Int64 || !labelTensor.shape.SequenceEqual([n]))
            throw new ArgumentException($"result entry 'labels' must be int64 [{n}], got {labelTensor.dtype} [{string.Join(", ", labelTensor.shape)}]", nameof(result));
        var labels = n == 0 ? [] : labelTensor.cpu().contiguous().data<long>().ToArray();
        float[]? keypoints = null, keypointScores = null;
        int k = keypointNames.Count;
        if (result.TryGetValue("keypoints", out var kp))
        {
            if (kp.dim() != 3 || kp.shape[0] != n || kp.shape[2] != 3 || kp.shape[1] != k)
                throw new ArgumentException($"result entry 'keypoints' must be [{n}, {k}, 3] for {n} boxes and the {k} keypoint names, got [{string.Join(", ", kp.shape)}]", nameof(result));
            keypoints = Floats(kp, "keypoints", n, k, 3);
            keypointScores = Floats(Get(result, "keypoints_scores"), "keypoints_scores", n, k);
        }
        var list = new List<DetectedObject>();
        for (int i = 0; i < n; i++)
        {
            if (!(scores[i] >= minScore)) continue;
            if (labels[i] < 0 || labels[i] >= categories.Count)
                throw new ArgumentException($"result entry 'labels' has label {labels[i]} outside the {categories.Count} categories", nameof(result));
            var points = keypoints is null ? [] : Enumerable.Range(0, k)
                .Select(j => new DetectedObjectKeypoint(keypointNames[j], keypoints[(i * k + j) * 3], keypoints[(i * k + j) * 3 + 1], keypointScores![i * k + j]))
                .ToList();
            list.Add(new DetectedObject((boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3]), scores[i], (int)labels[i],
                categories[(int)labels[i]], points));
        }
        return list;
    }

    public override string ToString() => $"{Label} {Score:F3} [{Box.X1:F1}, {Box.Y1:F1}, {Box.X2:F1}, {Box.Y2:F1}]" +
        (Keypoints.Count > 0 ? $", {Keypoints.Count} keypoints" : "");

    static Tensor Get(IReadOnlyDictionary<string, Tensor> result, string key) =>
        result.TryGetValue(key, out var t) ? t : throw new ArgumentException(
            $"the detector's result has no '{key}' entry (it has {string.Join(", ", result.Keys)})", nameof(result));

    /// <summary>The tensor's values as float32, row-major, after checking its shape (-1: any size).</summary>
    static float[] Floats(Tensor t, string key, params long[] shape)
    {
        bool fits = t.dim() == shape.Length && shape.Select((s, i) => s < 0 || s == t.shape[i]).All(b => b);
        if (!fits || !t.is_floating_point())
            throw new ArgumentException($"result entry '{key}' must be floating point [{string.Join(", ", shape.Select(s => s < 0 ? "N" : s.ToString()))}], " +
                $"got {t.dtype} [{string.Join(", ", t.shape)}]", "result");
        // TorchSharp's accessor cannot copy out of an empty tensor.
        return t.numel() == 0 ? [] : t.detach().to_type(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
    }
}
