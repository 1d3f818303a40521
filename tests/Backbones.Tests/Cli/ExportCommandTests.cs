using Backbones.Models;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Onnx;
using Backbones.Tests.Support;
using Backbones.Transfer;
using static TorchSharp.torch;

namespace Backbones.Tests.Cli;

/// <summary><c>export</c> and <c>forward --engine onnx</c>: files that ONNX Runtime runs to our eager numbers.</summary>
public sealed class ExportCommandTests
{
    /// <summary>A random ResNet-18 (with a <paramref name="classes"/>-class head) saved as a checkpoint file.</summary>
    static (Backbone Model, string Weights) SavedModel(string folder, long classes)
    {
        manual_seed(50);
        var model = ModelZoo.Create("resnet18", new ModelOptions { NumClasses = classes });
        OnnxTestSupport.RandomiseBatchNorm(model, 50);
        string path = Path.Combine(folder, "best.safetensors");
        using var state = new StateDict();
        foreach (var (key, value) in model.OrderedStateDict()) state.Add(key, value.detach().clone());
        state.Save(path);
        return (model, path);
    }

    [Fact]
    public void ExportWritesAModelOnnxRuntimeRuns()
    {
        string folder = TempFolder.Create("cli-export");
        var (model, weights) = SavedModel(folder, 10);
        using var _ = model;
        string onnx = Path.Combine(folder, "model.onnx");
        var (code, output, error) = CliRunner.Run("export", "resnet18", "--weights", weights, "-o", onnx, "--input", "3x64x64", "--dynamic-batch", "--layers", "layer2,layer4");
        Assert.True(code == 0, error);
        var lines = output.Trim().Split('\n').Select(l => l.Trim()).ToList();
        Assert.StartsWith($"wrote {onnx} (", lines[0]);
        // ResNet-18 has 20 BatchNorm layers, each right after a convolution.
        Assert.Matches(@"\): opset 17, \d+ nodes, \d+ initializers \([\d,]+ values\), 20 BatchNorm layers folded$", lines[0]);
        Assert.Equal(["input  input [batch, 3, 64, 64]", "output logits [batch, 10]", "output layer2 [batch, 128, 8, 8]", "output layer4 [batch, 512, 2, 2]"], lines[1..]);

        using var scope = NewDisposeScope();
        var input = randn(3, 3, 64, 64);
        var eager = OnnxTestSupport.Eager(model, input, ["layer2", "layer4"]);
        var ort = OnnxTestSupport.Run(onnx, input);
        OnnxTestSupport.AssertClose("cli logits", eager[""], ort["logits"]);
        OnnxTestSupport.AssertClose("cli layer2", eager["layer2"], ort["layer2"]);
        OnnxTestSupport.AssertClose("cli layer4", eager["layer4"], ort["layer4"]);
    }

    [Fact]
    public void ExportNamesABadInputShape()
    {
        string onnx = Path.Combine(TempFolder.Create("cli-export"), "m.onnx");
        var (code, _, error) = CliRunner.Run("export", "resnet18", "-o", onnx, "--input", "3x224");
        Assert.Equal(2, code);
        Assert.Equal("error: --input '3x224' is not CxHxW with positive sizes (3x224x224)", error.Trim());
        Assert.False(File.Exists(onnx));
    }

    [Fact]
    public void ForwardWithTheOnnxEngineMatchesTheTorchEngine()
    {
        string folder = TempFolder.Create("cli-forward");
        var (model, weights) = SavedModel(folder, 1000);
        model.Dispose();
        string input = Path.Combine(folder, "x.safetensors");
        using (var scope = NewDisposeScope())
        {
            manual_seed(51);
            var dict = new PyDict { Ordered = true };
            dict["input"] = randn(2, 3, 64, 64);
            Checkpoint.Save(input, dict);
        }
        string torchOut = Path.Combine(folder, "torch.safetensors"), onnxOut = Path.Combine(folder, "onnx.safetensors");
        var torchRun = CliRunner.Run("forward", "resnet18", "--weights", weights, "--input", input, "--layers", "layer3", "-o", torchOut);
        Assert.True(torchRun.Code == 0, torchRun.Error);
        string cache = Path.Combine(folder, "cache");
        var onnxRun = CliRunner.Run("forward", "resnet18", "--weights", weights, "--input", input, "--layers", "layer3", "-o", onnxOut,
            "--engine", "onnx", "--threads", "2", "--onnx-cache", cache);
        Assert.True(onnxRun.Code == 0, onnxRun.Error);
        var onnxLines = onnxRun.Output.Trim().Split('\n');
        Assert.Equal($"wrote {onnxOut}: logits [2, 1000], layer3 [2, 256, 4, 4]", onnxLines[0].Trim());
        Assert.Matches(@"^ONNX Runtime 1\.\d+\.\d+ on .*/cache/resnet18-[0-9a-f]{32}\.onnx \(exported now\)$", onnxLines[1].Trim());

        using var expected = Checkpoint.Load(torchOut);
        using var actual = Checkpoint.Load(onnxOut);
        var e = expected.Leaves().ToDictionary(l => l.Key, l => (Tensor)l.Value!);
        var a = actual.Leaves().ToDictionary(l => l.Key, l => (Tensor)l.Value!);
        OnnxTestSupport.AssertClose("forward logits, onnx vs torch engine", e["logits"], a["logits"]);
        OnnxTestSupport.AssertClose("forward layer3, onnx vs torch engine", e["layer3"], a["layer3"]);

        var again = CliRunner.Run("forward", "resnet18", "--weights", weights, "--input", input, "--layers", "layer3", "-o", onnxOut,
            "--engine", "onnx", "--onnx-cache", cache);
        Assert.EndsWith("(from the cache)", again.Output.Trim());
    }
}
