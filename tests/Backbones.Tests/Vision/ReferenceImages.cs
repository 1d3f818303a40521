using System.Text.Json;
using Backbones.Tests.Support;

namespace Backbones.Tests.Vision;

/// <summary>
/// The image files tests/reference/make_images.py writes with PIL (every format and variant the decoder reads, and
/// damaged ones), made once per test run, with the pixels PIL decodes from each.
/// </summary>
public static class ReferenceImages
{
    static readonly Lazy<(string Folder, JsonElement Manifest)> Made = new(Make);

    public static string Path(string name) => System.IO.Path.Combine(Made.Value.Folder, "images", name);

    public static IEnumerable<string> Decodable => Made.Value.Manifest.GetProperty("decoded").EnumerateObject().Select(p => p.Name);

    public static IEnumerable<string> Broken => Made.Value.Manifest.GetProperty("broken").EnumerateArray().Select(e => e.GetString()!);

    /// <summary>Indices (row-major) of the pixels of transparent.gif that use its transparent palette entry.</summary>
    public static IReadOnlySet<int> TransparentGifPixels =>
        Made.Value.Manifest.GetProperty("transparent_gif_pixels").EnumerateArray().Select(e => e.GetInt32()).ToHashSet();

    /// <summary>PIL's pixels of <paramref name="name"/>: width, height, bits, and H×W×3 samples.</summary>
    public static (int Width, int Height, int Bits, int[] Samples) Expected(string name)
    {
        var e = Made.Value.Manifest.GetProperty("decoded").GetProperty(name);
        int bits = e.GetProperty("bits").GetInt32();
        var bytes = File.ReadAllBytes(System.IO.Path.Combine(Made.Value.Folder, "pixels", e.GetProperty("pixels").GetString()!));
        int[] samples = bits == 16
            ? Enumerable.Range(0, bytes.Length / 2).Select(i => bytes[2 * i] | bytes[2 * i + 1] << 8).ToArray()
            : bytes.Select(b => (int)b).ToArray();
        return (e.GetProperty("width").GetInt32(), e.GetProperty("height").GetInt32(), bits, samples);
    }

    static (string, JsonElement) Make()
    {
        PyTorch.Require();
        string folder = TempFolder.Create("images");
        var (code, output, error) = PyTorch.RunScript("make_images.py", folder);
        if (code != 0) throw new InvalidOperationException($"make_images.py failed ({code}):\n{output}\n{error}");
        using var doc = JsonDocument.Parse(File.ReadAllText(System.IO.Path.Combine(folder, "manifest.json")));
        return (folder, doc.RootElement.Clone());
    }
}
