using Backbones.Vision;
using static TorchSharp.torch;

namespace Backbones.Data;

/// <summary>
/// torchvision's <c>RandomResizedCrop</c>: a box of random area (a fraction in <see cref="Scale"/> of the image's) and
/// random aspect ratio (log-uniform in <see cref="Ratio"/>), resized to <see cref="Height"/> × <see cref="Width"/>.
/// </summary>
/// <remarks>
/// The box is drawn by torchvision's algorithm: up to ten tries of area and ratio, the first that fits taken at a
/// uniformly random position; if none fits, the central crop of the whole image clamped to the ratio range.
/// Areas and log-ratios are drawn in float32, as torch draws them.
/// </remarks>
public sealed record RandomResizedCrop
{
    public RandomResizedCrop(int size) : this(size, size)
    {
    }

    public RandomResizedCrop(int height, int width)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        Height = height;
        Width = width;
    }

    public int Height { get; }

    public int Width { get; }

    /// <summary>Range of the crop's area as a fraction of the image's.</summary>
    public (double Min, double Max) Scale { get; init; } = (0.08, 1.0);

    /// <summary>Range of the crop's aspect ratio, width / height.</summary>
    public (double Min, double Max) Ratio { get; init; } = (3.0 / 4.0, 4.0 / 3.0);

    public ImageInterpolation Interpolation { get; init; } = ImageInterpolation.Bilinear;

    public bool Antialias { get; init; } = true;

    /// <summary>torchvision's <c>get_params</c> for an image of <paramref name="height"/> × <paramref name="width"/>.</summary>
    public CropBox Sample(int height, int width, DeterministicRandom random)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        if (!(Scale.Min > 0 && Scale.Min <= Scale.Max) || !(Ratio.Min > 0 && Ratio.Min <= Ratio.Max))
            throw new InvalidOperationException($"scale {Scale} and ratio {Ratio} must be positive (min, max) ranges");
        double area = (double)height * width;
        float logRatioMin = MathF.Log((float)Ratio.Min), logRatioMax = MathF.Log((float)Ratio.Max);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double targetArea = area * random.Uniform((float)Scale.Min, (float)Scale.Max);
            double aspect = MathF.Exp(random.Uniform(logRatioMin, logRatioMax));
            int w = (int)Math.Round(Math.Sqrt(targetArea * aspect), MidpointRounding.ToEven);
            int h = (int)Math.Round(Math.Sqrt(targetArea / aspect), MidpointRounding.ToEven);
            if (w > 0 && w <= width && h > 0 && h <= height)
            {
                int top = random.NextInt(height - h + 1);
                int left = random.NextInt(width - w + 1);
                return new CropBox(top, left, h, w);
            }
        }
        return Central(height, width);
    }

    /// <summary>The fallback after ten misses: the whole image, cut to the nearest ratio of the range, centred.</summary>
    public CropBox Central(int height, int width)
    {
        double inRatio = (double)width / height;
        int w = width, h = height;
        if (inRatio < Ratio.Min) h = (int)Math.Round(w / Ratio.Min, MidpointRounding.ToEven);
        else if (inRatio > Ratio.Max) w = (int)Math.Round(h * Ratio.Max, MidpointRounding.ToEven);
        return new CropBox((height - h) / 2, (width - w) / 2, h, w);
    }

    /// <summary><c>F.resized_crop</c> of <paramref name="box"/> to this transform's size.</summary>
    public Tensor Apply(Tensor image, CropBox box) => ImageAugment.ResizedCrop(image, box, Height, Width, Interpolation, Antialias);

    public Tensor Apply(Tensor image, DeterministicRandom random) => Apply(image, Sample((int)image.shape[^2], (int)image.shape[^1], random));

    public override string ToString() =>
        $"RandomResizedCrop({Height}×{Width}, scale {Scale.Min:0.###}..{Scale.Max:0.###}, ratio {Ratio.Min:0.###}..{Ratio.Max:0.###}, {Interpolation.ToString().ToLowerInvariant()}{(Antialias ? ", antialiased" : "")})";
}
