using Backbones.Vision;
using static TorchSharp.torch;

namespace Backbones.Data;

/// <summary>
/// The training augmentation, torchvision's recipe: random resized crop, horizontal flip, optional colour jitter,
/// normalisation; <see cref="Channels"/> says whether gray images become three channels or colour ones one.
/// </summary>
/// <remarks>
/// Steps: channels adapted (<see cref="ImageAugment.ToChannels"/>), <see cref="Crop"/> on the image's own type (a uint8
/// image is rounded back to uint8 as torchvision's tensor resize does), conversion to float in [0, 1], <see cref="Flip"/>,
/// <see cref="Jitter"/> on float, then (x - mean) / std. Draws come in torchvision's order: crop, flip, jitter.
/// </remarks>
public sealed record TrainTransform : ISampleTransform
{
    public TrainTransform(int cropSize) => Crop = new RandomResizedCrop(cropSize);

    public RandomResizedCrop Crop { get; init; }

    public RandomHorizontalFlip Flip { get; init; } = new();

    public ColorJitter? Jitter { get; init; }

    /// <summary>Per-channel mean; three values are averaged into one when <see cref="Channels"/> is 1.</summary>
    public IReadOnlyList<double> Mean { get; init; } = ImagePreprocessing.ImageNet.Mean;

    public IReadOnlyList<double> Std { get; init; } = ImagePreprocessing.ImageNet.Std;

    /// <summary>3 (gray images expanded to RGB) or 1 (colour images turned gray; adapt the model with <c>InputChannels.Set</c>).</summary>
    public int Channels { get; init; } = 3;

    /// <summary>The augmentation for a model whose weights set evaluates with <paramref name="eval"/>: its crop size,
    /// interpolation, mean and std.</summary>
    public static TrainTransform For(ImagePreprocessing eval, int channels = 3) => new(eval.CropSize)
    {
        Crop = new RandomResizedCrop(eval.CropSize) { Interpolation = eval.Interpolation, Antialias = eval.Antialias },
        Mean = eval.Mean,
        Std = eval.Std,
        Channels = channels,
    };

    public (int Channels, int Height, int Width) OutputShape => (Channels, Crop.Height, Crop.Width);

    /// <summary>Everything random about transforming an image of <paramref name="height"/> × <paramref name="width"/>.</summary>
    public TrainDraw Sample(int height, int width, DeterministicRandom random)
    {
        var crop = Crop.Sample(height, width, random);
        bool flip = Flip.Sample(random);
        return new TrainDraw(crop, flip, Jitter?.Sample(random));
    }

    public Tensor Apply(Tensor image, TrainDraw draw)
    {
        using var scope = NewDisposeScope();
        var x = ImageAugment.ToChannels(image, Channels);
        x = ImageTransforms.ToFloat(Crop.Apply(x, draw.Crop));
        x = Flip.Apply(x, draw.Flip);
        if (draw.Jitter is { } jitter) x = ColorJitter.Apply(x, jitter);
        return ImageTransforms.Normalize(x, EvalTransform.PerChannel(Mean, Channels), EvalTransform.PerChannel(Std, Channels)).MoveToOuterDisposeScope();
    }

    public Tensor Apply(Tensor image, DeterministicRandom random) => Apply(image, Sample((int)image.shape[^2], (int)image.shape[^1], random));

    public override string ToString() =>
        $"{Crop}, {Flip}{(Jitter is null ? "" : $", {Jitter}")}, normalise mean [{string.Join(", ", Mean)}] std [{string.Join(", ", Std)}], {Channels} channel{(Channels == 1 ? "" : "s")}";
}
