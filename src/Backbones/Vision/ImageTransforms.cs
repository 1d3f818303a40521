using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Vision;

/// <summary>Interpolation of <see cref="ImageTransforms.Resize(Tensor, int, ImageInterpolation, bool)"/>, as torchvision's InterpolationMode.</summary>
public enum ImageInterpolation
{
    Bilinear,
    Bicubic,
}

/// <summary>
/// torchvision's tensor transforms (0.14, <c>torchvision.transforms.functional</c>) on C×H×W or N×C×H×W images:
/// resize of the shorter side, center crop, conversion to float in [0, 1], normalisation; same sizes, same rounding.
/// </summary>
/// <remarks>
/// As torchvision does, a uint8 image is resized in float and rounded back to uint8 (so a later <see cref="ToFloat"/>
/// gives multiples of 1/255), while a float image stays float.
/// </remarks>
public static class ImageTransforms
{
    /// <summary>
    /// The size torchvision resizes a <paramref name="height"/> × <paramref name="width"/> image to when its shorter side
    /// becomes <paramref name="size"/>: the longer side is <c>int(size * long / short)</c>, truncated.
    /// </summary>
    public static (int Height, int Width) ResizedSize(int height, int width, int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        bool portrait = width <= height;
        int shorter = portrait ? width : height, longer = portrait ? height : width;
        int newLonger = (int)((double)((long)size * longer) / shorter);
        return portrait ? (newLonger, size) : (size, newLonger);
    }

    /// <summary>Resizes so that the shorter side is <paramref name="size"/> (torchvision's <c>F.resize(img, [size])</c>).</summary>
    public static Tensor Resize(Tensor image, int size, ImageInterpolation interpolation = ImageInterpolation.Bilinear, bool antialias = true)
    {
        var (height, width) = ResizedSize((int)image.shape[^2], (int)image.shape[^1], size);
        return Resize(image, height, width, interpolation, antialias);
    }

    /// <summary>Resizes to exactly <paramref name="height"/> × <paramref name="width"/>; an image of that size is returned as it is (not copied).</summary>
    public static Tensor Resize(Tensor image, int height, int width, ImageInterpolation interpolation = ImageInterpolation.Bilinear, bool antialias = true)
    {
        CheckImage(image);
        if (image.shape[^2] == height && image.shape[^1] == width) return image.alias();
        using var scope = NewDisposeScope();
        bool batched = image.dim() == 4;
        bool integer = !image.is_floating_point();
        var x = batched ? image : image.unsqueeze(0);
        if (integer) x = x.to_type(ScalarType.Float32);
        var mode = interpolation == ImageInterpolation.Bicubic ? InterpolationMode.Bicubic : InterpolationMode.Bilinear;
        x = nn.functional.interpolate(x, [height, width], mode: mode, align_corners: false, antialias: antialias);
        if (integer)
        {
            // Bicubic overshoots; torchvision clamps before rounding back to the integer type.
            if (interpolation == ImageInterpolation.Bicubic) x = x.clamp(0, 255);
            x = x.round().to_type(image.dtype);
        }
        if (!batched) x = x.squeeze(0);
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The central <paramref name="height"/> × <paramref name="width"/> region, top = round((H - h) / 2) with Python's
    /// round-half-to-even; an image smaller than the crop is first padded with zeros as torchvision does.
    /// </summary>
    public static Tensor CenterCrop(Tensor image, int height, int width)
    {
        CheckImage(image);
        using var scope = NewDisposeScope();
        long h = image.shape[^2], w = image.shape[^1];
        var x = image;
        if (width > w || height > h)
        {
            long left = width > w ? (width - w) / 2 : 0, top = height > h ? (height - h) / 2 : 0;
            long right = width > w ? (width - w + 1) / 2 : 0, bottom = height > h ? (height - h + 1) / 2 : 0;
            x = nn.functional.pad(x, [left, right, top, bottom], PaddingModes.Constant, 0);
            h = x.shape[^2];
            w = x.shape[^1];
        }
        long cropTop = (long)Math.Round((h - height) / 2.0, MidpointRounding.ToEven);
        long cropLeft = (long)Math.Round((w - width) / 2.0, MidpointRounding.ToEven);
        return x[TensorIndex.Ellipsis, TensorIndex.Slice(cropTop, cropTop + height), TensorIndex.Slice(cropLeft, cropLeft + width)].MoveToOuterDisposeScope();
    }

    /// <summary>torchvision's <c>convert_image_dtype(img, torch.float)</c>: uint8 divided by 255; a float image is returned as it is.</summary>
    public static Tensor ToFloat(Tensor image)
    {
        if (image.is_floating_point()) return image.to_type(ScalarType.Float32);
        if (image.dtype != ScalarType.Byte) throw new ArgumentException($"images must be uint8 or float, not {image.dtype}", nameof(image));
        using var scope = NewDisposeScope();
        return image.to_type(ScalarType.Float32).div_(255f).MoveToOuterDisposeScope();
    }

    /// <summary>(image - mean) / std per channel, with mean and std in float32 as torchvision's <c>F.normalize</c> makes them.</summary>
    public static Tensor Normalize(Tensor image, IReadOnlyList<double> mean, IReadOnlyList<double> std)
    {
        CheckImage(image);
        long channels = image.shape[^3];
        if (mean.Count != channels || std.Count != channels)
            throw new ArgumentException($"mean ({mean.Count}) and std ({std.Count}) need one value for each of the {channels} channels");
        if (std.Any(s => s == 0)) throw new ArgumentException("std has a zero, which would divide by zero", nameof(std));
        using var scope = NewDisposeScope();
        var m = torch.tensor(mean.Select(v => (float)v).ToArray()).view(-1, 1, 1);
        var s = torch.tensor(std.Select(v => (float)v).ToArray()).view(-1, 1, 1);
        return image.sub(m).div_(s).MoveToOuterDisposeScope();
    }

    static void CheckImage(Tensor image)
    {
        if (image.dim() is not (3 or 4))
            throw new ArgumentException($"an image is C×H×W or N×C×H×W, not [{string.Join(", ", image.shape)}]", nameof(image));
    }
}
