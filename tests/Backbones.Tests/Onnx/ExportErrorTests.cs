using Backbones.Models;
using Backbones.Onnx;
using Backbones.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Backbones.Tests.Onnx;

/// <summary>
/// What the exporter cannot express is an error naming the module path and type, never a wrong graph, and nothing is
/// written; a custom module becomes exportable by supplying its emitter.
/// </summary>
public sealed class ExportErrorTests
{
    /// <summary>A block the exporter has never seen: x·tanh(softplus(x)) computed in C#.</summary>
    sealed class Mish() : Module<Tensor, Tensor>(nameof(Mish))
    {
        public override Tensor forward(Tensor x) => x * functional.softplus(x).tanh();
    }

    static Sequential ModelWithMish() => Sequential(
        ("stem", Conv2d(3, 8, 3, padding: 1)),
        ("head", Sequential(("norm", BatchNorm2d(8)), ("act", new Mish()), ("pool", AdaptiveAvgPool2d(1)))));

    [Fact]
    public void UnknownModuleIsNamedWithItsPathAndType()
    {
        using var model = ModelWithMish();
        string path = Path.Combine(TempFolder.Create("onnx"), "mish.onnx");
        var e = Assert.Throws<OnnxExportException>(() => OnnxExporter.Export(model, path, new OnnxExportOptions { InputShape = [3, 16, 16] }));
        Assert.Equal("head.act", e.ModulePath);
        Assert.Equal(typeof(Mish), e.ModuleType);
        Assert.Equal($"module 'head.act' of type {typeof(Mish).FullName}: the exporter has no ONNX emitter for this type (supply one in OnnxExportOptions.Emitters)", e.Message);
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public void SuppliedEmitterExportsACustomModule()
    {
        using var scope = NewDisposeScope();
        manual_seed(20);
        using var model = ModelWithMish();
        OnnxTestSupport.RandomiseBatchNorm(model, 20);
        var emitters = new Dictionary<Type, OnnxModuleEmitter>
        {
            [typeof(Mish)] = (c, _, path, x) => c.Mul(path, x, c.Unary("Tanh", path, c.Unary("Softplus", path, x))),
        };
        OnnxTestSupport.ExportAndCompare("custom Mish", model, randn(2, 3, 16, 16),
            new OnnxExportOptions { BatchSize = 2, Emitters = emitters, Layers = ["head.act"] });
    }

    public static TheoryData<string, Func<Module<Tensor, Tensor>>, long, string> Inexpressible() => new()
    {
        { "reflect padding", () => Sequential(("0", Conv2d(3, 4, 3, padding: 1, padding_mode: PaddingModes.Reflect))), 16, "module '0' of type TorchSharp.Modules.Conv2d: padding mode Reflect is not supported (only zeros)" },
        { "uneven adaptive max", () => Sequential(("pool", AdaptiveMaxPool2d([3, 3]))), 8, "module 'pool' of type TorchSharp.Modules.AdaptiveMaxPool2d: adaptive max pooling from 8×8 to 3×3 has uneven bins, which ONNX's MaxPool cannot express" },
        { "ceil average counting padding", () => Sequential(("pool", AvgPool2d(3, 2, 1, ceil_mode: true, count_include_pad: true))), 16, "module 'pool' of type TorchSharp.Modules.AvgPool2d: average pooling in ceil mode that counts padding has no exact ONNX equivalent" },
        { "divisor override", () => Sequential(("pool", AvgPool2d(2, divisor_override: 3))), 8, "module 'pool' of type TorchSharp.Modules.AvgPool2d: divisor_override has no ONNX equivalent" },
        { "batch statistics", () => Sequential(("conv", Conv2d(3, 4, 3, bias: false)), ("act", ReLU()), ("bn", BatchNorm2d(4, track_running_stats: false))), 8, "module 'bn' of type TorchSharp.Modules.BatchNorm2d: has no running statistics (track_running_stats=False), so its eval output depends on the batch" },
    };

    [Theory]
    [MemberData(nameof(Inexpressible))]
    public void InexpressibleLayerIsAnError(string what, Func<Module<Tensor, Tensor>> build, long size, string message)
    {
        using var model = build();
        string path = Path.Combine(TempFolder.Create("onnx"), "m.onnx");
        var e = Assert.Throws<OnnxExportException>(() => OnnxExporter.Export(model, path, new OnnxExportOptions { InputShape = [3, size, size] }));
        Assert.True(e.Message == message, $"{what}: {e.Message}");
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void BadOptionsAreNamed()
    {
        using var model = ModelZoo.Create("resnet18");
        string path = Path.Combine(TempFolder.Create("onnx"), "m.onnx");
        var unknown = Assert.Throws<ArgumentException>(() => OnnxExporter.Export(model, path, new OnnxExportOptions { Layers = ["layer9"] }));
        Assert.StartsWith("'layer9' is not a module of resnet18; top-level modules: conv1, bn1, relu, maxpool, layer1", unknown.Message);
        var notRun = Assert.Throws<ArgumentException>(() => OnnxExporter.Export(model, path, new OnnxExportOptions { Output = ModelOutput.Features, Layers = ["fc"] }));
        Assert.StartsWith("module 'fc' is not run by the exported forward (it stops at Features)", notRun.Message);
        var opset = Assert.Throws<ArgumentOutOfRangeException>(() => OnnxExporter.Export(model, path, new OnnxExportOptions { Opset = 13 }));
        Assert.Contains("opset must be 14 to 21", opset.Message);
        var wrongChannels = Assert.Throws<OnnxExportException>(() => OnnxExporter.Export(model, path, new OnnxExportOptions { InputShape = [1, 64, 64] }));
        Assert.Equal("module 'conv1': a convolution of 3 input channels gets [1, 1, 64, 64]", wrongChannels.Message);
        using var alexnet = ModelZoo.Create("alexnet");
        var tooSmall = Assert.Throws<OnnxExportException>(() => OnnxExporter.Export(alexnet, path, new OnnxExportOptions { InputShape = [3, 32, 32] }));
        Assert.Equal("module 'features.12' of type TorchSharp.Modules.MaxPool2d: the 3-wide window does not fit the input [1, 256, 1, 1]", tooSmall.Message);
        using var plain = Sequential(Linear(4, 2));
        var noShape = Assert.Throws<ArgumentException>(() => OnnxExporter.Export(plain, path));
        Assert.StartsWith("exporting a module other than a zoo backbone needs OnnxExportOptions.InputShape", noShape.Message);
        Assert.False(File.Exists(path));
    }
}
