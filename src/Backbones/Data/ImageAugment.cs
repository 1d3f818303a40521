using Backbones.Vision;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Data;

/// <summary>
/// torchvision 0.14's functional augmentations on C×H×W or N×C×H×W tensors (uint8, or float in [0, 1]): resized crop,
/// horizontal flip, brightness, contrast, saturation and hue, with the same operations in the same order, so the same numbers.
/// </summary>
/// <remarks>
/// As torchvision, a uint8 image stays uint8: blends are clamped and truncated back to uint8, and the hue is shifted
/// in float and truncated. One-channel images pass saturation and hue unchanged (PIL's behaviour).
/// </remarks>
public static class ImageAugment
{
    /// <summary><c>F.crop</c> of a box inside the image.</summary>
    public static Tensor Crop(Tensor image, CropBox box)
    {
        CheckImage(image);
        long height = image.shape[^2], width = image.shape[^1];
        if (box.Top < 0 || box.Left < 0 || box.Height < 1 || box.Width < 1 || box.Top + box.Height > height || box.Left + box.Width > width)
            throw new ArgumentOutOfRangeException(nameof(box), $"{box} is not inside the {height}×{width} image");
        return image[TensorIndex.Ellipsis, TensorIndex.Slice(box.Top, box.Top + box.Height), TensorIndex.Slice(box.Left, box.Left + box.Width)];
    }

    /// <summary><c>F.resized_crop</c>: the box, resized to <paramref name="height"/> × <paramref name="width"/>.</summary>
    public static Tensor ResizedCrop(Tensor image, CropBox box, int height, int width,
        ImageInterpolation interpolation = ImageInterpolation.Bilinear, bool antialias = true)
    {
        using var crop = Crop(image, box);
        return ImageTransforms.Resize(crop, height, width, interpolation, antialias);
    }

    /// <summary><c>F.hflip</c>: mirrored left to right.</summary>
    public static Tensor HorizontalFlip(Tensor image)
    {
        CheckImage(image);
        return image.flip(-1);
    }

    /// <summary><c>F.adjust_brightness</c>: blended with black; 0 gives black, 1 the image.</summary>
    public static Tensor AdjustBrightness(Tensor image, double factor)
    {
        CheckColour(image, factor >= 0, $"brightness factor {factor} is negative");
        using var black = zeros_like(image);
        return Blend(image, black, factor);
    }

    /// <summary><c>F.adjust_contrast</c>: blended with the mean of the image's grayscale; 0 gives that gray, 1 the image.</summary>
    public static Tensor AdjustContrast(Tensor image, double factor)
    {
        CheckColour(image, factor >= 0, $"contrast factor {factor} is negative");
        using var scope = NewDisposeScope();
        var dtype = image.is_floating_point() ? image.dtype : ScalarType.Float32;
        var gray = image.shape[^3] == 3 ? Grayscale(image) : image;
        var mean = gray.to_type(dtype).mean([-3, -2, -1], keepdim: true);
        return Blend(image, mean, factor).MoveToOuterDisposeScope();
    }

    /// <summary><c>F.adjust_saturation</c>: blended with the image's grayscale; 0 gives gray, 1 the image.</summary>
    public static Tensor AdjustSaturation(Tensor image, double factor)
    {
        CheckColour(image, factor >= 0, $"saturation factor {factor} is negative");
        if (image.shape[^3] == 1) return image.alias();
        using var gray = Grayscale(image);
        return Blend(image, gray, factor);
    }

    /// <summary><c>F.adjust_hue</c>: the hue turned by <paramref name="factor"/> of a full turn, in [-0.5, 0.5], through HSV.</summary>
    public static Tensor AdjustHue(Tensor image, double factor)
    {
        CheckColour(image, factor is >= -0.5 and <= 0.5, $"hue factor {factor} is not in [-0.5, 0.5]");
        if (image.shape[^3] == 1) return image.alias();
        using var scope = NewDisposeScope();
        bool bytes = image.dtype == ScalarType.Byte;
        var x = bytes ? image.to_type(ScalarType.Float32).div(255.0) : image;
        var hsv = RgbToHsv(x).unbind(-3);
        var h = hsv[0].add(factor).remainder(1.0);
        var rgb = HsvToRgb(stack([h, hsv[1], hsv[2]], -3));
        if (bytes) rgb = rgb.mul(255.0).to_type(ScalarType.Byte);
        return rgb.MoveToOuterDisposeScope();
    }

    /// <summary><c>F.rgb_to_grayscale</c> (one channel): 0.2989 R + 0.587 G + 0.114 B, truncated back to uint8 for a uint8 image.</summary>
    public static Tensor Grayscale(Tensor image)
    {
        CheckImage(image);
        if (image.shape[^3] == 1) return image.clone();
        if (image.shape[^3] != 3) throw new ArgumentException($"grayscale needs 1 or 3 channels, not {image.shape[^3]}", nameof(image));
        using var scope = NewDisposeScope();
        var c = (image.is_floating_point() ? image : image.to_type(ScalarType.Float32)).unbind(-3);
        var gray = c[0].mul(0.2989).add(c[1].mul(0.587)).add(c[2].mul(0.114));
        return gray.to_type(image.dtype).unsqueeze(-3).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// An image with <paramref name="channels"/> channels: a one-channel image repeated into RGB, or an RGB image turned
    /// gray with PIL's <c>convert('L')</c> weights (0.299, 0.587, 0.114; rounded for uint8), so a gray image decoded as
    /// RGB comes back exactly. An image that already has them is returned as it is (an alias).
    /// </summary>
    public static Tensor ToChannels(Tensor image, int channels)
    {
        CheckImage(image);
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "images have 1 or 3 channels");
        long have = image.shape[^3];
        if (have == channels) return image.alias();
        if (have == 1) return image.expand(image.dim() == 4 ? [-1, 3, -1, -1] : [3, -1, -1]).contiguous();
        if (have != 3) throw new ArgumentException($"cannot make {channels}-channel images of {have}-channel ones", nameof(image));
        using var scope = NewDisposeScope();
        var c = (image.is_floating_point() ? image : image.to_type(ScalarType.Float32)).unbind(-3);
        var gray = c[0].mul(0.299).add(c[1].mul(0.587)).add(c[2].mul(0.114)).unsqueeze(-3);
        if (!image.is_floating_point()) gray = gray.round().clamp(0, 255);
        return gray.to_type(image.dtype).MoveToOuterDisposeScope();
    }

    // torchvision's _blend: (ratio * a + (1 - ratio) * b), clamped to the type's range, cast back to a's type.
    static Tensor Blend(Tensor a, Tensor b, double ratio)
    {
        using var scope = NewDisposeScope();
        double bound = a.is_floating_point() ? 1.0 : 255.0;
        var fa = a.is_floating_point() ? a : a.to_type(ScalarType.Float32);
        var fb = b.is_floating_point() ? b : b.to_type(ScalarType.Float32);
        return fa.mul(ratio).add(fb.mul(1.0 - ratio)).clamp(0, bound).to_type(a.dtype).MoveToOuterDisposeScope();
    }

    // torchvision's _rgb2hsv (after Pillow's): the where() guards keep gray pixels free of 0/0.
    static Tensor RgbToHsv(Tensor image)
    {
        var rgb = image.unbind(-3);
        Tensor r = rgb[0], g = rgb[1], b = rgb[2];
        var maxc = image.max(-3).values;
        var minc = image.min(-3).values;
        var eqc = maxc.eq(minc);
        var cr = maxc - minc;
        var ones = ones_like(maxc);
        var s = cr / where(eqc, ones, maxc);
        var crDivisor = where(eqc, ones, cr);
        var rc = (maxc - r) / crDivisor;
        var gc = (maxc - g) / crDivisor;
        var bc = (maxc - b) / crDivisor;
        var hr = maxc.eq(r).mul(bc - gc);
        var hg = maxc.eq(g).logical_and(maxc.ne(r)).mul(rc.add(2.0).sub(bc));
        var hb = maxc.ne(g).logical_and(maxc.ne(r)).mul(gc.add(4.0).sub(rc));
        var h = hr.add(hg).add(hb);
        h = h.div(6.0).add(1.0).fmod(1.0);
        return stack([h, s, maxc], -3);
    }

    // torchvision's _hsv2rgb: the sector i picks one of six (v, q, p, t) combinations. torchvision sums a one-hot
    // einsum over the six; picking with gather gives the same bits (the other terms are exact zeros) several times faster.
    static Tensor HsvToRgb(Tensor image)
    {
        var hsv = image.unbind(-3);
        Tensor h = hsv[0], s = hsv[1], v = hsv[2];
        var i = h.mul(6.0).floor();
        var f = h.mul(6.0).sub(i);
        var sector = i.to_type(ScalarType.Int64).remainder(6);
        var p = v.mul(s.neg().add(1.0)).clamp(0.0, 1.0);
        var q = v.mul(s.mul(f).neg().add(1.0)).clamp(0.0, 1.0);
        var t = v.mul(s.mul(f.neg().add(1.0)).neg().add(1.0)).clamp(0.0, 1.0);
        var a1 = stack([v, q, p, p, t, v], -3);
        var a2 = stack([t, v, v, q, p, p], -3);
        var a3 = stack([p, p, t, v, v, q], -3);
        var index = sector.unsqueeze(-3);
        return cat([a1.gather(-3, index), a2.gather(-3, index), a3.gather(-3, index)], -3);
    }

    static void CheckImage(Tensor image)
    {
        if (image.dim() is not (3 or 4))
            throw new ArgumentException($"an image is C×H×W or N×C×H×W, not [{string.Join(", ", image.shape)}]", nameof(image));
    }

    static void CheckColour(Tensor image, bool valid, string problem)
    {
        CheckImage(image);
        if (!valid) throw new ArgumentOutOfRangeException(nameof(image), problem);
        if (image.shape[^3] is not (1 or 3)) throw new ArgumentException($"colour adjustments need 1 or 3 channels, not {image.shape[^3]}", nameof(image));
        if (!image.is_floating_point() && image.dtype != ScalarType.Byte) throw new ArgumentException($"images are uint8 or float, not {image.dtype}", nameof(image));
    }
}
