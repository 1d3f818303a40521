using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using static TorchSharp.torch;

namespace Backbones.Tests.Transfer;

/// <summary>
/// What tests/reference/surgery_reference.py writes with real PyTorch, made once per test run: a resnet50's weights,
/// torchvision's outputs for it at output strides 32/16/8 and with torchreid's last stride 1, and timm's
/// input-channel rule applied to its first convolution.
/// </summary>
internal static class SurgeryReference
{
    public const int Size = 64;

    static readonly Lazy<string> Made = new(() =>
    {
        string folder = TempFolder.Create("surgery");
        var (code, output, error) = PyTorch.RunScript("surgery_reference.py", folder, "--size", Size.ToString());
        if (code != 0) throw new InvalidOperationException($"surgery_reference.py failed ({code}):\n{output}\n{error}");
        return folder;
    });

    /// <summary>The folder, after skipping (or failing) the test when PyTorch is missing.</summary>
    public static string Folder
    {
        get
        {
            PyTorch.Require();
            return Made.Value;
        }
    }

    public static string WeightsPath => Path.Combine(Folder, "resnet50.weights.pth");

    /// <summary>The outputs file; its root is a dict (see the script's docstring).</summary>
    public static (Checkpoint File, PyDict Root) Outputs()
    {
        var file = Checkpoint.Load(Path.Combine(Folder, "surgery.io.pth"));
        return (file, (PyDict)file.Root!);
    }

    public static Tensor At(PyDict dict, params string[] keys)
    {
        object? value = dict;
        foreach (var key in keys) value = ((PyDict)value!)[key];
        return (Tensor)value!;
    }
}
