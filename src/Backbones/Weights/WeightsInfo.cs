namespace Backbones.Weights;

/// <summary>
/// One set of official weights, as torchvision's weights enums describe it: where it is, how to check it, how
/// images must be prepared for it, what it scores and which classes (and, for a keypoint detector, keypoints) it predicts.
/// </summary>
/// <remarks>
/// Classification weights have <see cref="Acc1"/>, <see cref="Acc5"/> and their <see cref="Transforms"/>; detection weights
/// have none of those (their preset, ObjectDetection, only scales pixels to [0, 1]: the model resizes and normalises
/// itself), but <see cref="BoxMap"/>, <see cref="KeypointMap"/> and <see cref="KeypointNames"/>.
/// </remarks>
public sealed record WeightsInfo(
    string Model,
    string Enum,
    string Name,
    bool IsDefault,
    string Url,
    string FileName,
    string Sha256Prefix,
    long NumParams,
    double? Acc1,
    double? Acc5,
    int? NumClasses,
    Preprocessing? Transforms,
    IReadOnlyList<string> Categories)
{
    /// <summary>torchvision's spelling, e.g. <c>ResNet50_Weights.IMAGENET1K_V2</c>.</summary>
    public string FullName => $"{Enum}.{Name}";

    public WeightsTask Task { get; init; } = WeightsTask.Classification;

    /// <summary>The keypoints a keypoint detector predicts, in its output order (COCO's 17 for Keypoint R-CNN); empty otherwise.</summary>
    public IReadOnlyList<string> KeypointNames { get; init; } = [];

    /// <summary>COCO box mAP (percent) of a detector.</summary>
    public double? BoxMap { get; init; }

    /// <summary>COCO keypoint mAP (percent) of a keypoint detector.</summary>
    public double? KeypointMap { get; init; }
}

/// <summary>torchvision's ImageClassification preset: resize the shorter side, center crop, scale to [0, 1], normalise.</summary>
public sealed record Preprocessing(int ResizeSize, int CropSize, string Interpolation, IReadOnlyList<double> Mean, IReadOnlyList<double> Std);
