namespace Backbones.Models.Layers;

/// <summary>
/// torchvision's <c>_make_divisible</c> (from TensorFlow's MobileNet): rounds a channel count to the nearest multiple
/// of <c>divisor</c>, never below <c>minValue</c> and never more than 10 % below the value asked for.
/// </summary>
public static class MakeDivisible
{
    public static long Of(double value, long divisor = 8, long? minValue = null)
    {
        long min = minValue ?? divisor;
        long rounded = Math.Max(min, (long)(value + divisor / 2.0) / divisor * divisor);
        if (rounded < 0.9 * value) rounded += divisor;
        return rounded;
    }
}
