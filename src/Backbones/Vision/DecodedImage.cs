using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Vision;

/// <summary>
/// An image as decoded: RGB, rows top to bottom, already turned upright by its EXIF orientation, 8 or 16 bits a channel,
/// interleaved (height × width × 3); <see cref="ToTensor"/> gives the C×H×W tensor torchvision works on.
/// </summary>
public sealed class DecodedImage
{
    internal DecodedImage(string source, int width, int height, byte[]? pixels8, ushort[]? pixels16)
    {
        Source = source;
        Width = width;
        Height = height;
        Pixels8 = pixels8;
        Pixels16 = pixels16;
    }

    /// <summary>The file (or name) the image came from, for messages.</summary>
    public string Source { get; }

    public int Width { get; }

    public int Height { get; }

    /// <summary>8, or 16 for 16-bit PNG.</summary>
    public int BitDepth => Pixels16 is null ? 8 : 16;

    /// <summary>8-bit pixels, height × width × RGB; null for a 16-bit image.</summary>
    public byte[]? Pixels8 { get; }

    /// <summary>16-bit pixels, height × width × RGB; null for an 8-bit image.</summary>
    public ushort[]? Pixels16 { get; }

    /// <summary>
    /// 3 × H × W: uint8 for an 8-bit image (as torchvision's read_image gives it), float32 in [0, 1] (value / 65535)
    /// for a 16-bit one, so the transforms scale each correctly.
    /// </summary>
    public Tensor ToTensor()
    {
        using var scope = NewDisposeScope();
        long[] hwc = [Height, Width, 3];
        var chw = Pixels8 is { } bytes
            ? torch.tensor(bytes, hwc, ScalarType.Byte)
            : torch.tensor(Pixels16!.Select(v => (float)v).ToArray(), hwc).div_(65535f);
        return chw.permute(2, 0, 1).contiguous().MoveToOuterDisposeScope();
    }

    public override string ToString() => $"{Source}: {Width}×{Height} RGB, {BitDepth}-bit";
}
