using Backbones.IO;
using static TorchSharp.torch;

namespace Backbones.Vision;

/// <summary>
/// Pictures of activation maps: a map in [0, 1] coloured with the JET colour map and blended over the image,
/// 0.6 image + 0.4 colour as the classic activation-map script does (OpenCV's <c>addWeighted</c>), written as PNG.
/// </summary>
/// <remarks>
/// JET is matplotlib's: the 256-entry table its LinearSegmentedColormap builds from the segment data below, looked up
/// at <c>min(floor(v × 256), 255)</c>, each component scaled to 8 bits as <c>cmap(v, bytes=True)</c> does (× 255, truncated). OpenCV's COLORMAP_JET differs slightly (its
/// red ramp starts later); matplotlib's is the one most Python users see.
/// </remarks>
public static class Heatmap
{
    /// <summary>matplotlib's <c>_jet_data</c>: per component, (x, value) points of a piecewise-linear ramp.</summary>
    static readonly (double X, double Y)[][] JetSegments =
    [
        [(0, 0), (0.35, 0), (0.66, 1), (0.89, 1), (1, 0.5)],
        [(0, 0), (0.125, 0), (0.375, 1), (0.64, 1), (0.91, 0), (1, 0)],
        [(0, 0.5), (0.11, 1), (0.34, 1), (0.65, 0), (1, 0)],
    ];

    /// <summary>The 256 colours of JET, 8-bit RGB, from dark blue (0) to dark red (255).</summary>
    public static IReadOnlyList<(byte R, byte G, byte B)> Jet { get; } = Enumerable.Range(0, 256)
        .Select(i => (Component(0, i), Component(1, i), Component(2, i))).ToList();

    // Entry i as matplotlib's _create_lookup_table computes it (in units of table steps, x scaled by N - 1), same float
    // operations in the same order, so the truncation to 8 bits lands on the same side.
    static byte Component(int c, int i)
    {
        var s = JetSegments[c];
        double xi = 255 * (i * (1.0 / 255));
        int k = 1;
        while (k < s.Length - 1 && xi > s[k].X * 255) k++;
        double distance = (xi - s[k - 1].X * 255) / (s[k].X * 255 - s[k - 1].X * 255);
        double value = i == 0 ? s[0].Y : i == 255 ? s[^1].Y : distance * (s[k].Y - s[k - 1].Y) + s[k - 1].Y;
        return (byte)(Math.Clamp(value, 0, 1) * 255); // truncated, as matplotlib's cmap(v, bytes=True)
    }

    /// <summary>
    /// <paramref name="image"/> (3 × H × W, uint8) blended with <paramref name="map"/> (H × W in [0, 1]) in JET:
    /// round(<paramref name="imageWeight"/> × image + (1 − weight) × colour), as H × W × RGB bytes.
    /// </summary>
    public static byte[] Overlay(Tensor image, Tensor map, double imageWeight = 0.6)
    {
        if (image.dim() != 3 || image.shape[0] != 3 || image.dtype != ScalarType.Byte)
            throw new ArgumentException($"the image must be 3 × H × W uint8, not {image.dtype} [{string.Join(", ", image.shape)}]", nameof(image));
        if (map.dim() != 2 || map.shape[0] != image.shape[1] || map.shape[1] != image.shape[2])
            throw new ArgumentException($"the map [{string.Join(", ", map.shape)}] must be H × W of the image [{string.Join(", ", image.shape)}]", nameof(map));
        using var scope = NewDisposeScope();
        var pixels = image.permute(1, 2, 0).contiguous().data<byte>().ToArray();
        var values = map.to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
        var jet = Jet;
        var rgb = new byte[pixels.Length];
        for (int i = 0; i < values.Length; i++)
        {
            var (r, g, b) = jet[Math.Clamp((int)Math.Floor(values[i] * 256.0), 0, 255)];
            rgb[3 * i] = Blend(pixels[3 * i], r, imageWeight);
            rgb[3 * i + 1] = Blend(pixels[3 * i + 1], g, imageWeight);
            rgb[3 * i + 2] = Blend(pixels[3 * i + 2], b, imageWeight);
        }
        return rgb;
    }

    static byte Blend(byte image, byte colour, double weight) =>
        (byte)Math.Clamp(Math.Round(weight * image + (1 - weight) * colour, MidpointRounding.ToEven), 0, 255);

    /// <summary>Writes H × W × RGB bytes as an 8-bit PNG, atomically.</summary>
    public static void WritePng(string path, byte[] rgb, int width, int height)
    {
        if (rgb.Length != (long)width * height * 3) throw new ArgumentException($"{rgb.Length} bytes are not {width} × {height} × 3");
        ImageDecoder.EnsureSetUp();
        using var picture = NetVips.Image.NewFromMemory(rgb, width, height, 3, NetVips.Enums.BandFormat.Uchar);
        var png = picture.PngsaveBuffer();
        AtomicFile.Write(path, stream => stream.Write(png));
    }
}
