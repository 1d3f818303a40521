using System.Text.Json;

namespace Backbones.Tests.Support;

/// <summary>
/// The checkpoints tests/reference/make_checkpoints.py writes with real PyTorch, made once per test run in a
/// temporary folder, with the manifest that says what each holds (written by PyTorch, not by us).
/// </summary>
public static class ReferenceFiles
{
    static readonly Lazy<(string Folder, JsonElement Manifest)> Made = new(Make);

    public static string Folder => Made.Value.Folder;

    public static string Path(string name) => System.IO.Path.Combine(Folder, name);

    public static JsonElement Manifest(string name) => Made.Value.Manifest.GetProperty("files").GetProperty(name);

    public static string MarkerPath => System.IO.Path.Combine(Folder, "pwned_marker");

    /// <summary>The readable files (the hostile one is not among them).</summary>
    public static readonly string[] Readable =
        ["resnet18_zip.pth", "dtypes_zip.pth", "dtypes_legacy.pth", "wrapped.pth", "parameter.pth", "cuda_legacy.pth", "tar_format.pth", "setstate_legacy.pth"];

    static (string, JsonElement) Make()
    {
        string folder = TempFolder.Create("reference");
        var (code, output, error) = PyTorch.RunScript("make_checkpoints.py", folder, "--marker", System.IO.Path.Combine(folder, "pwned_marker"));
        if (code != 0) throw new InvalidOperationException($"make_checkpoints.py failed ({code}):\n{output}\n{error}");
        using var doc = JsonDocument.Parse(File.ReadAllText(System.IO.Path.Combine(folder, "manifest.json")));
        return (folder, doc.RootElement.Clone());
    }
}

/// <summary>Temporary folders removed when the test process ends.</summary>
public static class TempFolder
{
    static readonly string Root = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"backbones-tests-{Environment.ProcessId}");

    static TempFolder() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    };

    public static string Create(string name)
    {
        string path = System.IO.Path.Combine(Root, $"{name}-{Guid.NewGuid():N}"[..(name.Length + 9)]);
        Directory.CreateDirectory(path);
        return path;
    }
}
