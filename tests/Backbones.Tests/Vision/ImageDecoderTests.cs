using Backbones.Vision;

namespace Backbones.Tests.Vision;

/// <summary>Our decoded pixels against PIL's (exif_transpose + convert('RGB')) for every format and variant, and damaged files refused by name.</summary>
public class ImageDecoderTests
{
    /// <summary>
    /// Both sides decode JPEG with libjpeg-turbo (PIL: Debian's 2.1.5; libvips: its bundled build) using the same
    /// default IDCT and upsampling; measured max difference 0. The bound allows the ±1 rounding a different IDCT build could give.
    /// </summary>
    const int JpegTolerance = 1;

    public static TheoryData<string> Lossless => new(
        "rgb.png", "rgba.png", "gray.png", "gray_alpha.png", "palette.png", "palette_transparent.png", "bilevel.png", "gray4bit.png",
        "gray16.png", "rgb16.png", "palette.gif", "lossless.webp",
        "rgb24.bmp", "gray8.bmp", "palette8.bmp", "bilevel.bmp", "rgba32.bmp", "rgb565.bmp", "rgb555.bmp", "topdown.bmp");

    public static TheoryData<string> Jpegs => new(
        "baseline.jpg", "baseline444.jpg", "progressive.jpg", "gray.jpg",
        "orientation1.jpg", "orientation2.jpg", "orientation3.jpg", "orientation4.jpg",
        "orientation5.jpg", "orientation6.jpg", "orientation7.jpg", "orientation8.jpg");

    [Theory]
    [MemberData(nameof(Lossless))]
    public void DecodesLosslessFilesExactlyAsPil(string name) => Assert.Equal(0, MaxDifference(name));

    [Theory]
    [MemberData(nameof(Jpegs))]
    public void DecodesJpegsAsPilWithinOneLevel(string name) => Assert.InRange(MaxDifference(name), 0, JpegTolerance);

    /// <summary>
    /// libvips gives a GIF's transparent pixels as black with alpha 0, so with alpha dropped they are black; PIL's
    /// convert('RGB') shows the palette colour hidden under the transparent index instead. Every other pixel is PIL's.
    /// </summary>
    [Fact]
    public void DecodesTransparentGifAsPilWithTransparentPixelsBlack()
    {
        var (width, height, _, expected) = ReferenceImages.Expected("transparent.gif");
        var transparent = ReferenceImages.TransparentGifPixels;
        Assert.NotEmpty(transparent);
        var ours = ImageDecoder.Decode(ReferenceImages.Path("transparent.gif")).Pixels8!;
        for (int i = 0; i < width * height; i++)
            for (int c = 0; c < 3; c++)
                Assert.Equal(transparent.Contains(i) ? 0 : expected[i * 3 + c], ours[i * 3 + c]);
    }

    [Fact]
    public void ScalesSixteenBitPngToUnitRangeByDividingBy65535()
    {
        var image = ImageDecoder.Decode(ReferenceImages.Path("rgb16.png"));
        var (_, _, _, samples) = ReferenceImages.Expected("rgb16.png");
        using var tensor = image.ToTensor();
        Assert.Equal(TorchSharp.torch.ScalarType.Float32, tensor.dtype);
        using var hwc = tensor.permute(1, 2, 0).contiguous();
        var ours = hwc.data<float>().ToArray();
        Assert.Equal(samples.Length, ours.Length);
        Assert.Equal(0, samples.Select((s, i) => Math.Abs(s / 65535.0 - ours[i])).Max(), 7);
    }

    [Fact]
    public void EightBitTensorIsUint8ChannelsFirst()
    {
        var image = ImageDecoder.Decode(ReferenceImages.Path("rgb.png"));
        var (w, h, _, samples) = ReferenceImages.Expected("rgb.png");
        using var tensor = image.ToTensor();
        Assert.Equal(TorchSharp.torch.ScalarType.Byte, tensor.dtype);
        Assert.Equal([3L, h, w], tensor.shape);
        // channel 1 (green) of pixel (row 2, column 5)
        Assert.Equal(samples[(2 * w + 5) * 3 + 1], tensor[1, 2, 5].item<byte>());
    }

    [Theory]
    [InlineData("truncated.jpg", "JPEG")]
    [InlineData("truncated.png", "PNG")]
    [InlineData("garbage_after_signature.png", "PNG")]
    [InlineData("text.jpg", "not a JPEG, PNG, GIF, WebP or BMP file")]
    [InlineData("empty.png", "empty file")]
    [InlineData("rle8.bmp", "RLE-compressed BMP is not supported")]
    [InlineData("truncated.bmp", "runs past the end of the file")]
    [InlineData("cmyk.jpg", "CMYK JPEG is not supported")]
    public void RefusesDamagedOrUnsupportedFileNamingIt(string name, string problem)
    {
        string path = ReferenceImages.Path(name);
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(path));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(problem, e.Message);
        Assert.Equal(path, e.File);
    }

    [Fact]
    public void MissingFileIsADecodeErrorNamingIt()
    {
        string path = Path.Combine(Path.GetTempPath(), $"no-such-image-{Guid.NewGuid():N}.jpg");
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(path));
        Assert.StartsWith(path + ": ", e.Message);
    }

    static int MaxDifference(string name)
    {
        var (width, height, bits, expected) = ReferenceImages.Expected(name);
        var image = ImageDecoder.Decode(ReferenceImages.Path(name));
        Assert.Equal((width, height, bits), (image.Width, image.Height, image.BitDepth));
        int[] ours = bits == 16 ? image.Pixels16!.Select(v => (int)v).ToArray() : image.Pixels8!.Select(v => (int)v).ToArray();
        Assert.Equal(expected.Length, ours.Length);
        return expected.Zip(ours, (a, b) => Math.Abs(a - b)).Max();
    }
}
