using Backbones.Models;
using Backbones.Onnx;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using Backbones.Transfer;
using static TorchSharp.torch;

namespace Backbones.Tests.Onnx;

/// <summary>
/// Our export against PyTorch's own: Debian's PyTorch 1.13 writes random weights (BatchNorm statistics randomised) and
/// torch.onnx.export's file at opset 17 (the highest 1.13 supports); we load the weights, export ours, and ONNX Runtime
/// runs both on the same input: the logits agree within relative L2 1e-5.
/// </summary>
public sealed class TorchExportParityTests
{
    [Theory]
    [InlineData("resnet50", 96)]
    [InlineData("densenet121", 96)]
    [InlineData("mobilenet_v3_large", 96)]
    [InlineData("efficientnet_b0", 96)]
    [InlineData("convnext_tiny", 96)]
    public void MatchesTorchOnnxExport(string name, int size)
    {
        PyTorch.Require();
        string folder = TempFolder.Create("torch-onnx");
        var (code, output, error) = PyTorch.RunScript("torch_onnx_export.py", folder, name, "--size", size.ToString(), "--batch", "2", "--opset", "17");
        Assert.True(code == 0, output + error);

        using var scope = NewDisposeScope();
        using var model = ModelZoo.Create(name);
        using (var weights = StateDict.Load(Path.Combine(folder, name + ".weights.pth"))) model.LoadStateDict(weights, strict: true);
        using var io = Checkpoint.Load(Path.Combine(folder, name + ".input.pth"));
        var input = (Tensor)((PyDict)io.Root!)["input"]!;

        string ours = Path.Combine(folder, name + ".backbones.onnx");
        OnnxExporter.Export(model, ours, new OnnxExportOptions { BatchSize = 2, InputShape = [3, size, size] });
        var theirs = OnnxTestSupport.Run(Path.Combine(folder, name + ".torch.onnx"), input);
        var mine = OnnxTestSupport.Run(ours, input);
        OnnxTestSupport.AssertClose($"{name}: ours vs torch.onnx.export under ONNX Runtime", theirs["logits"], mine["logits"]);
    }
}
