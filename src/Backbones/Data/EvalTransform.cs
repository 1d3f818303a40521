using Backbones.Vision;
using static TorchSharp.torch;

namespace Backbones.Data;

/// <summary>The validation transform: a weights set's eval preprocessing (resize, center crop, normalise), nothing random,
/// after the same channel adaptation as <see cref="TrainTransform"/>.</summary>
public sealed class EvalTransform : ISampleTransform
{
    public EvalTransform(ImagePreprocessing preprocessing, int channels = 3)
    {
        ArgumentNullException.ThrowIfNull(preprocessing);
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "images have 1 or 3 channels");
        Preprocessing = preprocessing;
        Channels = channels;
        _adapted = preprocessing with { Mean = PerChannel(preprocessing.Mean, channels), Std = PerChannel(preprocessing.Std, channels) };
    }

    readonly ImagePreprocessing _adapted;

    public ImagePreprocessing Preprocessing { get; }

    public int Channels { get; }

    public (int Channels, int Height, int Width) OutputShape => (Channels, Preprocessing.CropSize, Preprocessing.CropSize);

    public Tensor Apply(Tensor image, DeterministicRandom random) => Apply(image);

    public Tensor Apply(Tensor image)
    {
        using var adapted = ImageAugment.ToChannels(image, Channels);
        return _adapted.Apply(adapted);
    }

    public override string ToString() => $"{Preprocessing}, {Channels} channel{(Channels == 1 ? "" : "s")}";

    /// <summary>A mean or std for <paramref name="channels"/> channels: as given, or three values averaged into one.</summary>
    internal static IReadOnlyList<double> PerChannel(IReadOnlyList<double> values, int channels)
    {
        if (values.Count == channels) return values;
        if (channels == 1 && values.Count == 3) return [values.Average()];
        throw new ArgumentException($"{values.Count} mean/std values do not fit {channels}-channel images");
    }
}
