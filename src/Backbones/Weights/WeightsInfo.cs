namespace Backbones.Weights;

/// <summary>
/// One set of official weights, as torchvision's weights enums describe it: where it is, how to check it, how
/// images must be prepared for it, what it scores and which classes it predicts.
/// </summary>
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
    Preprocessing Transforms,
    IReadOnlyList<string> Categories)
{
    /// <summary>torchvision's spelling, e.g. <c>ResNet50_Weights.IMAGENET1K_V2</c>.</summary>
    public string FullName => $"{Enum}.{Name}";
}

/// <summary>torchvision's ImageClassification preset: resize the shorter side, center crop, scale to [0, 1], normalise.</summary>
public sealed record Preprocessing(int ResizeSize, int CropSize, string Interpolation, IReadOnlyList<double> Mean, IReadOnlyList<double> Std);
