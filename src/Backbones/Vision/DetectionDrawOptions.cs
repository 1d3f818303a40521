using Colour = (byte R, byte G, byte B);

namespace Backbones.Vision;

/// <summary>How <see cref="DetectionImages"/> draws: line widths, the keypoint score below which a keypoint is left out, the skeleton.</summary>
public sealed record DetectionDrawOptions
{
    /// <summary>
    /// Keypoints with a score (heatmap logit) at or below this are not drawn, nor the limbs touching them. 2 as Detectron's
    /// <c>vis_keypoints(kp_thresh=2)</c>, which draws the same logits; torchvision's <c>draw_keypoints</c> has no threshold.
    /// </summary>
    public float KeypointThreshold { get; init; } = 2f;

    /// <summary>Box outline width in pixels, drawn inward from the box's pixels (as PIL's rectangle does).</summary>
    public int BoxWidth { get; init; } = 2;

    /// <summary>Limb width in pixels (torchvision's <c>draw_keypoints</c> uses 3).</summary>
    public double LimbWidth { get; init; } = 3;

    /// <summary>Keypoint dot radius in pixels, drawn with a black ring 1.5 pixels wide around it.</summary>
    public double KeypointRadius { get; init; } = 3;

    /// <summary>Limbs as pairs of keypoint names; a limb is drawn when both its keypoints are shown.</summary>
    public IReadOnlyList<(string From, string To)> Skeleton { get; init; } = DetectionImages.CocoPersonSkeleton;

    /// <summary>Box and label colours, one per detection in turn (matplotlib's tab10 without its grey).</summary>
    public IReadOnlyList<Colour> BoxColours { get; init; } =
        [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75), (227, 119, 194), (188, 189, 34), (23, 190, 207)];
}
