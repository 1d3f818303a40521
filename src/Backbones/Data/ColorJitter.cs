using static TorchSharp.torch;

namespace Backbones.Data;

/// <summary>
/// torchvision's <c>ColorJitter</c>: brightness, contrast, saturation and hue changed by random factors, the four in a
/// random order; a strength of 0 leaves that one out. Best applied to float images (a uint8 image is truncated after each step).
/// </summary>
public sealed record ColorJitter
{
    /// <param name="brightness">Factor drawn from [max(0, 1 - b), 1 + b].</param>
    /// <param name="contrast">Factor drawn from [max(0, 1 - c), 1 + c].</param>
    /// <param name="saturation">Factor drawn from [max(0, 1 - s), 1 + s].</param>
    /// <param name="hue">Factor drawn from [-h, h], h at most 0.5.</param>
    public ColorJitter(double brightness = 0, double contrast = 0, double saturation = 0, double hue = 0)
    {
        Brightness = Range(brightness, nameof(brightness));
        Contrast = Range(contrast, nameof(contrast));
        Saturation = Range(saturation, nameof(saturation));
        if (!(hue >= 0 && hue <= 0.5)) throw new ArgumentOutOfRangeException(nameof(hue), hue, "hue is between 0 and 0.5");
        Hue = hue == 0 ? null : (-hue, hue);
    }

    public (double Min, double Max)? Brightness { get; }

    public (double Min, double Max)? Contrast { get; }

    public (double Min, double Max)? Saturation { get; }

    public (double Min, double Max)? Hue { get; }

    /// <summary>torchvision's <c>get_params</c>: the order (a permutation of 0 brightness, 1 contrast, 2 saturation, 3 hue),
    /// then each factor in float32, in that fixed sequence.</summary>
    public JitterDraw Sample(DeterministicRandom random)
    {
        var order = random.Permutation(4);
        double? Draw((double Min, double Max)? range) => range is { } r ? random.Uniform((float)r.Min, (float)r.Max) : null;
        var b = Draw(Brightness);
        var c = Draw(Contrast);
        var s = Draw(Saturation);
        var h = Draw(Hue);
        return new JitterDraw(order, b, c, s, h);
    }

    /// <summary>The adjustments of <paramref name="draw"/>, in its order.</summary>
    public static Tensor Apply(Tensor image, JitterDraw draw)
    {
        using var scope = NewDisposeScope();
        var x = image;
        foreach (int op in draw.Order)
        {
            x = op switch
            {
                0 when draw.Brightness is double f => ImageAugment.AdjustBrightness(x, f),
                1 when draw.Contrast is double f => ImageAugment.AdjustContrast(x, f),
                2 when draw.Saturation is double f => ImageAugment.AdjustSaturation(x, f),
                3 when draw.Hue is double f => ImageAugment.AdjustHue(x, f),
                _ => x,
            };
        }
        return (ReferenceEquals(x, image) ? image.alias() : x).MoveToOuterDisposeScope();
    }

    public Tensor Apply(Tensor image, DeterministicRandom random) => Apply(image, Sample(random));

    public override string ToString() =>
        $"ColorJitter(brightness {Show(Brightness)}, contrast {Show(Contrast)}, saturation {Show(Saturation)}, hue {Show(Hue)})";

    static (double, double)? Range(double strength, string name)
    {
        if (!(strength >= 0) || double.IsInfinity(strength)) throw new ArgumentOutOfRangeException(name, strength, $"{name} is a non-negative number");
        return strength == 0 ? null : (Math.Max(0, 1 - strength), 1 + strength);
    }

    static string Show((double Min, double Max)? range) => range is { } r ? $"{r.Min:0.###}..{r.Max:0.###}" : "off";
}
