namespace Backbones.Detection;

/// <summary>
/// One keypoint of a detection, in original-image pixels; <see cref="Score"/> is torchvision's <c>keypoints_scores</c>
/// entry: the keypoint heatmap's maximum (a logit, not a probability: about 0–15 where the point is visible).
/// </summary>
public sealed record DetectedObjectKeypoint(string Name, float X, float Y, float Score)
{
    public override string ToString() => $"{Name} ({X:F1}, {Y:F1}) score {Score:F2}";
}
