using Backbones.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Vision;

/// <summary>
/// How an image becomes a model's input, as torchvision's ImageClassification preset: resize the shorter side to
/// <see cref="ResizeSize"/>, center crop <see cref="CropSize"/>, scale to [0, 1], normalise with <see cref="Mean"/> and <see cref="Std"/>.
/// </summary>
public sealed record ImagePreprocessing
{
    public int ResizeSize { get; init; } = 256;

    public int CropSize { get; init; } = 224;

    public ImageInterpolation Interpolation { get; init; } = ImageInterpolation.Bilinear;

    /// <summary>Antialiased resizing, as PIL always does and torchvision's tensor resize with <c>antialias=True</c>.</summary>
    public bool Antialias { get; init; } = true;

    public IReadOnlyList<double> Mean { get; init; } = [0.485, 0.456, 0.406];

    public IReadOnlyList<double> Std { get; init; } = [0.229, 0.224, 0.225];

    /// <summary>ImageNet's usual preprocessing: 256, 224, bilinear, ImageNet mean and std.</summary>
    public static ImagePreprocessing ImageNet { get; } = new();

    /// <summary>The preprocessing a weights set of the catalogue was trained and evaluated with.</summary>
    public static ImagePreprocessing From(Preprocessing transforms) => new()
    {
        ResizeSize = transforms.ResizeSize,
        CropSize = transforms.CropSize,
        Interpolation = transforms.Interpolation switch
        {
            "bilinear" => ImageInterpolation.Bilinear,
            "bicubic" => ImageInterpolation.Bicubic,
            var other => throw new ArgumentException($"interpolation '{other}' is not supported"),
        },
        Mean = transforms.Mean,
        Std = transforms.Std,
    };

    /// <summary>
    /// The preprocessing for <paramref name="model"/> loaded with <paramref name="weights"/>: that weights set's own when it is
    /// one of the catalogue (by name, or a file named as the official file), else the model's default weights set's, else <see cref="ImageNet"/>.
    /// </summary>
    public static ImagePreprocessing For(string model, string? weights)
    {
        var sets = WeightsCatalogue.For(model);
        WeightsInfo? match = null;
        if (weights is not null)
            match = WeightsCatalogue.Find(model, weights) ?? sets.FirstOrDefault(w => w.FileName == Path.GetFileName(weights));
        match ??= sets.FirstOrDefault(w => w.IsDefault);
        return match?.Transforms is { } transforms ? From(transforms) : ImageNet;
    }

    /// <summary>A C×H×W (or N×C×H×W) uint8 or [0, 1] float image to the normalised float32 model input.</summary>
    public Tensor Apply(Tensor image)
    {
        using var scope = NewDisposeScope();
        var resized = ImageTransforms.Resize(image, ResizeSize, Interpolation, Antialias);
        var cropped = ImageTransforms.CenterCrop(resized, CropSize, CropSize);
        return ImageTransforms.Normalize(ImageTransforms.ToFloat(cropped), Mean, Std).MoveToOuterDisposeScope();
    }

    public override string ToString() =>
        $"resize {ResizeSize} ({Interpolation.ToString().ToLowerInvariant()}{(Antialias ? ", antialiased" : "")}), center crop {CropSize}, " +
        $"mean [{string.Join(", ", Mean)}], std [{string.Join(", ", Std)}]";
}
