using System.Collections.Concurrent;
using System.Text.Json;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using static TorchSharp.torch;

namespace Backbones.Tests.Detection;

/// <summary>
/// What the detection ops' reference scripts (roi_align_reference.py, box_ops_reference.py, anchors_reference.py)
/// write with torchvision 0.14, each run once per test run: cases as JSON, tensors under "case/what" keys.
/// </summary>
static class BoxOpsReference
{
    static readonly ConcurrentDictionary<string, Lazy<string>> Folders = new();

    /// <summary>The cases of OUT_DIR/<paramref name="name"/>.json and the tensors of .pth that <paramref name="script"/> writes; dispose the checkpoint.</summary>
    public static (JsonElement[] Cases, Checkpoint Tensors) Load(string script, string name)
    {
        PyTorch.Require();
        string folder = Folders.GetOrAdd(script, s => new Lazy<string>(() => Run(s))).Value;
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, name + ".json")));
        var cases = json.RootElement.EnumerateArray().Select(e => e.Clone()).ToArray();
        return (cases, Checkpoint.Load(Path.Combine(folder, name + ".pth")));
    }

    static string Run(string script) => PyTorch.WriteReference(script, Path.GetFileNameWithoutExtension(script).Replace('_', '-'));

    public static Tensor Get(Checkpoint tensors, string key) =>
        ((PyDict)tensors.Root!).TryGetValue(key, out var value) && value is Tensor t ? t : throw new KeyNotFoundException($"no tensor '{key}' in the reference");

    public static double MaxAbsDiff(Tensor a, Tensor b) =>
        a.numel() == 0 ? 0 : (a.detach().to(ScalarType.Float64) - b.detach().to(ScalarType.Float64)).abs().max().item<double>();

    /// <summary>Same dtype, shape and values, bit for bit (NaN where torchvision has NaN).</summary>
    public static void AssertIdentical(Tensor expected, Tensor actual, string what)
    {
        Assert.True(expected.dtype == actual.dtype, $"{what}: ours {actual.dtype}, torchvision {expected.dtype}");
        Assert.True(expected.shape.SequenceEqual(actual.shape), $"{what}: ours [{string.Join(", ", actual.shape)}], torchvision [{string.Join(", ", expected.shape)}]");
        using var scope = NewDisposeScope();
        var cpu = actual.detach().cpu();
        bool same = expected.is_floating_point()
            ? Same(expected.isnan(), cpu.isnan()) && Same(expected.nan_to_num(), cpu.nan_to_num())
            : Same(expected, cpu);
        Assert.True(same, $"{what}: differs from torchvision (max |ours - torchvision| {MaxAbsDiff(expected.nan_to_num(), cpu.nan_to_num()):G3})");
    }

    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && (a.numel() == 0 || a.eq(b).all().item<bool>());
}
