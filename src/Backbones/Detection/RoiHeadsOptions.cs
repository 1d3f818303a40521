namespace Backbones.Detection;

/// <summary>
/// The RoI heads' settings, with torchvision's defaults (its <c>box_*</c> arguments of FasterRCNN / KeypointRCNN):
/// training matching and sampling, the box coder's weights, and the inference filters.
/// </summary>
public sealed record RoiHeadsOptions
{
    /// <summary>A proposal whose IoU with a ground-truth box reaches this is foreground (box_fg_iou_thresh).</summary>
    public double ForegroundIouThreshold { get; init; } = 0.5;

    /// <summary>Below this IoU a proposal is background; between the two it is ignored (box_bg_iou_thresh).</summary>
    public double BackgroundIouThreshold { get; init; } = 0.5;

    /// <summary>Proposals sampled per image for the box losses (box_batch_size_per_image).</summary>
    public int BatchSizePerImage { get; init; } = 512;

    /// <summary>Largest share of positives in each image's sample (box_positive_fraction).</summary>
    public double PositiveFraction { get; init; } = 0.25;

    /// <summary>The box coder's weights (bbox_reg_weights).</summary>
    public (double X, double Y, double W, double H) BoxRegressionWeights { get; init; } = (10, 10, 5, 5);

    /// <summary>Inference keeps class scores above this (box_score_thresh).</summary>
    public double ScoreThreshold { get; init; } = 0.05;

    /// <summary>Per-class NMS IoU threshold at inference (box_nms_thresh).</summary>
    public double NmsThreshold { get; init; } = 0.5;

    /// <summary>Most detections kept per image, highest scores first (box_detections_per_img).</summary>
    public int DetectionsPerImage { get; init; } = 100;
}
