using System.Text.Json;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using static TorchSharp.torch;

namespace Backbones.Tests.Detection;

/// <summary>
/// What tests/reference/roi_align_reference.py writes with torchvision 0.14 (RoIAlign and MultiScaleRoIAlign cases),
/// made once per test run: the cases' settings as JSON and their tensors by "case/what" keys.
/// </summary>
static class RoiAlignReference
{
    static readonly Lazy<string> Folder = new(() =>
    {
        string folder = TempFolder.Create("roi-align");
        var (code, stdout, stderr) = PyTorch.RunScript("roi_align_reference.py", folder);
        if (code != 0) throw new InvalidOperationException($"roi_align_reference.py failed ({code}):\n{stdout}\n{stderr}");
        return folder;
    });

    /// <summary>The cases of <paramref name="name"/> (roi_align or multiscale) and their tensors; dispose the checkpoint.</summary>
    public static (JsonElement[] Cases, Checkpoint Tensors) Load(string name)
    {
        PyTorch.Require();
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder.Value, name + ".json")));
        var cases = json.RootElement.EnumerateArray().Select(e => e.Clone()).ToArray();
        return (cases, Checkpoint.Load(Path.Combine(Folder.Value, name + ".pth")));
    }

    public static Tensor Get(Checkpoint tensors, string key) =>
        ((PyDict)tensors.Root!).TryGetValue(key, out var value) && value is Tensor t ? t : throw new KeyNotFoundException($"no tensor '{key}' in the reference");

    public static bool Has(Checkpoint tensors, string key) => ((PyDict)tensors.Root!).ContainsKey(key);

    public static double MaxAbsDiff(Tensor a, Tensor b) =>
        a.numel() == 0 ? 0 : (a.detach().to(ScalarType.Float64) - b.detach().to(ScalarType.Float64)).abs().max().item<double>();
}
