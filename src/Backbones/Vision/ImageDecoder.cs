using NetVips;

namespace Backbones.Vision;

/// <summary>
/// Decodes JPEG (baseline and progressive), PNG (8/16-bit, palette, gray, alpha), GIF (first frame), WebP and BMP into
/// upright RGB, as PIL's <c>ImageOps.exif_transpose(img).convert('RGB')</c> sees them: gray replicated into three channels,
/// alpha dropped, EXIF orientation applied. Anything else, or a damaged file, is an <see cref="ImageDecodeException"/>.
/// </summary>
/// <remarks>
/// libvips (self-contained in NetVips.Native) decodes all but BMP, which its build lacks and <see cref="BmpDecoder"/>
/// handles. Thread-safe: callers decode on as many threads as they like, so libvips itself runs each decode on one.
/// </remarks>
public static class ImageDecoder
{
    /// <summary>File extensions of the formats decoded, lower case with the dot.</summary>
    public static IReadOnlySet<string> Extensions { get; } =
        new HashSet<string>([".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp"], StringComparer.OrdinalIgnoreCase);

    static readonly Lazy<bool> Setup = new(() =>
    {
        NetVips.NetVips.Concurrency = 1; // parallelism is the caller's: one libvips thread a decode
        Cache.Max = 0;                   // every file is decoded once; a cache would only hold memory
        // libvips reports damaged data as GLib warnings on stderr; the exception carries the reason instead.
        Log.SetLogHandler("VIPS", Enums.LogLevelFlags.Warning, (_, _, _) => { });
        return true;
    });

    /// <summary>Configures libvips once (one thread a call, no operation cache, warnings silenced).</summary>
    internal static void EnsureSetUp() => _ = Setup.Value;

    public static DecodedImage Decode(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageDecodeException(path, e.Message, e);
        }
        return Decode(bytes, path);
    }

    /// <summary>Decodes <paramref name="bytes"/>; <paramref name="source"/> names them in errors.</summary>
    public static DecodedImage Decode(byte[] bytes, string source)
    {
        var format = Sniff(bytes) ?? throw new ImageDecodeException(source,
            bytes.Length == 0 ? "empty file" : $"not a JPEG, PNG, GIF, WebP or BMP file (starts with {Convert.ToHexString(bytes.AsSpan(0, Math.Min(8, bytes.Length)))})");
        return format == "BMP" ? BmpDecoder.Decode(bytes, source) : DecodeWithVips(bytes, source, format);
    }

    static string? Sniff(ReadOnlySpan<byte> b)
    {
        if (b.StartsWith((byte[])[0xFF, 0xD8, 0xFF])) return "JPEG";
        if (b.StartsWith((byte[])[0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A])) return "PNG";
        if (b.StartsWith("GIF87a"u8) || b.StartsWith("GIF89a"u8)) return "GIF";
        if (b.Length >= 12 && b.StartsWith("RIFF"u8) && b[8..12].SequenceEqual("WEBP"u8)) return "WebP";
        if (b.Length >= 18 && b.StartsWith("BM"u8)) return "BMP";
        return null;
    }

    static DecodedImage DecodeWithVips(byte[] bytes, string source, string format)
    {
        EnsureSetUp();
        try
        {
            using var loaded = Image.NewFromBuffer(bytes, access: Enums.Access.Sequential, failOn: Enums.FailOn.Truncated);
            if (loaded.Interpretation == Enums.Interpretation.Cmyk)
                throw new ImageDecodeException(source, $"CMYK {format} is not supported (convert it to RGB)");
            // Streaming rows top to bottom is fastest; turning the image needs it whole, so a turned one is loaded again for random access.
            bool turned = loaded.GetTypeOf("orientation") != IntPtr.Zero && (int)loaded.Get("orientation") > 1;
            using var whole = turned ? Image.NewFromBuffer(bytes, failOn: Enums.FailOn.Truncated) : null;
            using var upright = turned ? whole!.Autorot() : loaded.Copy();
            int bands = upright.Bands;
            if (bands is < 1 or > 4) throw new ImageDecodeException(source, $"{format} with {bands} channels is not supported");
            bool sixteen = upright.Format == Enums.BandFormat.Ushort;
            if (!sixteen && upright.Format != Enums.BandFormat.Uchar)
                throw new ImageDecodeException(source, $"{format} with {upright.Format} samples is not supported");
            int width = upright.Width, height = upright.Height;
            // Gray (+ alpha) has 1 (2) bands, colour (+ alpha) 3 (4); alpha is dropped, as PIL's convert('RGB') does.
            int colours = bands <= 2 ? 1 : 3;
            if (sixteen)
                return new DecodedImage(source, width, height, null, ToRgb(upright.WriteToMemory<ushort>(), width * height, bands, colours));
            return new DecodedImage(source, width, height, ToRgb(upright.WriteToMemory<byte>(), width * height, bands, colours), null);
        }
        catch (VipsException e)
        {
            throw new ImageDecodeException(source, $"cannot decode {format}: {FirstLines(e.Message)}", e);
        }
    }

    static T[] ToRgb<T>(T[] pixels, int count, int bands, int colours)
    {
        if (bands == 3) return pixels;
        var rgb = new T[count * 3];
        for (int i = 0, s = 0, d = 0; i < count; i++, s += bands, d += 3)
        {
            rgb[d] = pixels[s];
            rgb[d + 1] = pixels[colours == 1 ? s : s + 1];
            rgb[d + 2] = pixels[colours == 1 ? s : s + 2];
        }
        return rgb;
    }

    // libvips stacks its messages line by line, the most specific last; repeated lines say nothing new.
    static string FirstLines(string message) =>
        string.Join("; ", message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().Take(4));
}
