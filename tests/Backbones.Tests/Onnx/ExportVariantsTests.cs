using Backbones.Models;
using Backbones.Models.Layers;
using Backbones.Onnx;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Backbones.Tests.Onnx;

/// <summary>
/// Models changed the way the transfer recipes change them (new heads, 1- and 4-channel inputs, dilated stages,
/// pre-logits and feature-map outputs, custom networks built from a backbone's stages, transposed convolutions), and
/// the export options (dynamic batch, opsets, BatchNorm folding): ONNX Runtime equals our eager forward within 1e-5.
/// </summary>
public sealed class ExportVariantsTests
{
    [Theory]
    [InlineData("resnet18", 10, 3)]
    [InlineData("densenet121", 5, 1)]
    [InlineData("mobilenet_v3_small", 7, 4)]
    [InlineData("efficientnet_b0", 2, 1)]
    [InlineData("convnext_tiny", 3, 4)]
    [InlineData("vgg11_bn", 4, 1)]
    [InlineData("alexnet", 10, 4)]
    [InlineData("squeezenet1_1", 6, 1)]
    public void NewHeadAndInputChannelsExport(string name, long classes, long channels)
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        using var model = ModelZoo.Create(name, new ModelOptions { InChannels = channels });
        model.ResetClassifier(classes);
        OnnxTestSupport.RandomiseBatchNorm(model, 2);
        var input = randn(1, channels, 64, 64);
        OnnxTestSupport.ExportAndCompare($"{name} {channels}-channel {classes}-class", model, input, new OnnxExportOptions());
    }

    [Theory]
    [InlineData("resnet50", new[] { false, false, true })]
    [InlineData("resnet50", new[] { false, true, true })]
    [InlineData("resnext50_32x4d", new[] { false, true, true })]
    public void DilatedStagesExport(string name, bool[] dilate)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var model = ModelZoo.Create(name, new ModelOptions { ReplaceStrideWithDilation = dilate });
        OnnxTestSupport.RandomiseBatchNorm(model, 3);
        var layers = model.FeatureInfo.Select(f => f.Module).ToList();
        OnnxTestSupport.ExportAndCompare($"{name} dilated", model, randn(1, 3, 64, 64), new OnnxExportOptions { Layers = layers });
    }

    public static TheoryData<string, ModelOutput> Truncations() => new()
    {
        { "resnet18", ModelOutput.PreLogits },
        { "resnet18", ModelOutput.Features },
        { "densenet121", ModelOutput.PreLogits },
        { "mobilenet_v2", ModelOutput.PreLogits },
        { "mobilenet_v3_small", ModelOutput.PreLogits },
        { "efficientnet_b0", ModelOutput.Features },
        { "convnext_tiny", ModelOutput.PreLogits },
        { "vgg11", ModelOutput.PreLogits },
        { "alexnet", ModelOutput.PreLogits },
        { "squeezenet1_0", ModelOutput.PreLogits },
        { "squeezenet1_0", ModelOutput.Features },
    };

    /// <summary>The pooled embedding and the feature map: as ForwardHead(preLogits) and ForwardFeatures compute them.</summary>
    [Theory]
    [MemberData(nameof(Truncations))]
    public void TruncatedForwardsExport(string name, ModelOutput output)
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        using var model = ModelZoo.Create(name);
        OnnxTestSupport.RandomiseBatchNorm(model, 4);
        Func<Tensor, Tensor> forward = output == ModelOutput.Features
            ? model.ForwardFeatures
            : x => model.ForwardHead(model.ForwardFeatures(x), preLogits: true);
        var layers = model.FeatureInfo.Select(f => f.Module).Take(2).ToList();
        OnnxTestSupport.ExportAndCompare($"{name} {output}", model, randn(2, 3, 64, 64),
            new OnnxExportOptions { Output = output, BatchSize = 2, Layers = layers }, forward);
    }

    /// <summary>At 224 px VGG's and AlexNet's adaptive pools see 7×7 and 6×6 maps: the identity, no node at all.</summary>
    [Theory]
    [InlineData("vgg11")]
    [InlineData("alexnet")]
    public void AdaptivePoolAtNativeSizeIsTheIdentity(string name)
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var model = ModelZoo.Create(name);
        var (_, report) = OnnxTestSupport.ExportAndCompare($"{name} 224", model, randn(1, 3, 224, 224), new OnnxExportOptions(),
            folder: Support.TempFolder.Create("onnx"));
        var proto = OnnxTestSupport.ReadModel(report.Path);
        Assert.DoesNotContain(proto.Graph.Node, n => n.OpType is "AveragePool" or "MatMul" or "GlobalAveragePool");
    }

    /// <summary>Adaptive average pooling to every kind of output size: identity, global, even bins, uneven bins (PyTorch's).</summary>
    [Theory]
    [InlineData(7, 7, 7, 7)]
    [InlineData(9, 5, 1, 1)]
    [InlineData(12, 8, 6, 4)]
    [InlineData(5, 7, 3, 3)]
    [InlineData(2, 3, 7, 7)]
    [InlineData(10, 6, 10, 4)]
    public void AdaptiveAveragePoolingIsExact(long h, long w, long oh, long ow)
    {
        using var scope = NewDisposeScope();
        manual_seed(6);
        using var model = Sequential(Conv2d(3, 4, 3, padding: 1), AdaptiveAvgPool2d([oh, ow]), Flatten(1), Linear(4 * oh * ow, 3));
        OnnxTestSupport.ExportAndCompare($"adaptive {h}x{w}->{oh}x{ow}", model, randn(2, 3, h, w), new OnnxExportOptions { BatchSize = 2 });
    }

    /// <summary>Max and average pools in ceil mode, with padding and dilation, as PyTorch sizes them.</summary>
    [Theory]
    [InlineData(3, 2, 0, 1, true, 15)]
    [InlineData(3, 2, 1, 1, true, 16)]
    [InlineData(2, 2, 0, 1, true, 9)]
    [InlineData(3, 2, 1, 2, false, 17)]
    [InlineData(3, 3, 1, 1, true, 10)]
    public void PoolingMatchesPyTorchSizes(long kernel, long stride, long padding, long dilation, bool ceil, long size)
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        using var maxModel = Sequential(MaxPool2d(kernel, stride, padding, dilation, ceil_mode: ceil));
        OnnxTestSupport.ExportAndCompare($"maxpool k{kernel} s{stride} p{padding} d{dilation} ceil={ceil} on {size}", maxModel,
            randn(1, 2, size, size), new OnnxExportOptions());
        if (dilation != 1) return;
        // Counting padding in ceil mode has no exact ONNX form (an error, tested apart).
        foreach (bool countPad in ceil && padding > 0 ? [false] : new[] { false, true })
        {
            using var averageModel = Sequential(AvgPool2d(kernel, stride, padding, ceil_mode: ceil, count_include_pad: countPad));
            OnnxTestSupport.ExportAndCompare($"avgpool k{kernel} s{stride} p{padding} ceil={ceil} count_include_pad={countPad} on {size}",
                averageModel, randn(1, 2, size, size), new OnnxExportOptions());
        }
    }

    /// <summary>
    /// The YOLO-v1-style recipe: ResNet-50's stages, three dilated bottlenecks, average pooling, a 3×3 convolution to
    /// 30 channels and a permute to N×7×7×30 for a 448×448 input, as a Sequential reusing the backbone's modules.
    /// </summary>
    [Fact]
    public void YoloStyleDetectorExports()
    {
        using var scope = NewDisposeScope();
        manual_seed(8);
        using var resnet = ModelZoo.Create("resnet50");
        OnnxTestSupport.RandomiseBatchNorm(resnet, 8);
        var stages = resnet.named_children().Where(c => c.name is not ("avgpool" or "fc")).ToList();
        var head = new List<(string, Module<Tensor, Tensor>)>
        {
            ("relu", ReLU()),
            ("dilated1", new ResNet.Bottleneck(2048, 512, 1, null, 1, 64, 2)),
            ("dilated2", new ResNet.Bottleneck(2048, 512, 1, null, 1, 64, 2)),
            ("dilated3", new ResNet.Bottleneck(2048, 512, 1, null, 1, 64, 2)),
            ("pool", AvgPool2d(2, 2)),
            ("conv", Conv2d(2048, 30, 3, padding: 1)),
            ("permute", new Permute(0, 2, 3, 1)),
        };
        // ResNet applies ReLU after bn1 functionally; as a Sequential it needs the module, so it goes right after bn1.
        var layers = stages.Take(2).Select(c => (c.name, (Module<Tensor, Tensor>)c.module))
            .Append(head[0])
            .Concat(stages.Skip(2).Select(c => (c.name, (Module<Tensor, Tensor>)c.module)))
            .Concat(head.Skip(1))
            .ToArray();
        var detector = Sequential(layers);
        OnnxTestSupport.RandomiseBatchNorm(detector, 9);
        using var input = randn(1, 3, 448, 448);
        OnnxTestSupport.ExportAndCompare("yolo-style", detector, input, new OnnxExportOptions { Layers = ["layer4", "dilated3"] });
        detector.eval();
        using var output = detector.call(input);
        Assert.Equal([1L, 7, 7, 30], output.shape);
        foreach (var (_, module) in head) module.Dispose();
    }

    /// <summary>The transposed-convolution recipe: ResNet-18's pooled features through ConvTranspose2d, a max pool and a new classifier.</summary>
    [Fact]
    public void TransposedConvolutionRecipeExports()
    {
        using var scope = NewDisposeScope();
        manual_seed(9);
        using var resnet = ModelZoo.Create("resnet18");
        OnnxTestSupport.RandomiseBatchNorm(resnet, 10);
        var body = resnet.named_children().Where(c => c.name is not "fc").Select(c => (c.name, (Module<Tensor, Tensor>)c.module)).ToList();
        body.Insert(2, ("relu", ReLU()));
        var extra = new (string, Module<Tensor, Tensor>)[]
        {
            ("deconv", ConvTranspose2d(512, 64, 4, stride: 2, padding: 1)),
            ("deconv_bn", BatchNorm2d(64)),
            ("deconv_relu", ReLU()),
            ("deconv2", ConvTranspose2d(64, 32, 3, stride: 2, padding: 1, output_padding: 1, groups: 2, dilation: 1)),
            ("pool", MaxPool2d(2)),
            ("flatten", Flatten(1)),
            ("classifier", Linear(32 * 2 * 2, 10)),
        };
        var model = Sequential([.. body, .. extra]);
        OnnxTestSupport.RandomiseBatchNorm(model, 11);
        OnnxTestSupport.ExportAndCompare("transposed-conv recipe", model, randn(2, 3, 64, 64),
            new OnnxExportOptions { BatchSize = 2, Layers = ["deconv", "deconv2"] });
        foreach (var (_, module) in extra) module.Dispose();
    }

    /// <summary>A dynamic batch: one file runs batches of 1 and 3 with the same numbers as eager.</summary>
    [Fact]
    public void DynamicBatchRunsAnyBatchSize()
    {
        using var scope = NewDisposeScope();
        manual_seed(10);
        using var model = ModelZoo.Create("mobilenet_v3_small");
        OnnxTestSupport.RandomiseBatchNorm(model, 12);
        string path = Path.Combine(Support.TempFolder.Create("onnx"), "dynamic.onnx");
        var report = OnnxExporter.Export(model, path, new OnnxExportOptions { DynamicBatch = true, InputShape = [3, 64, 64], Layers = ["features.3"] });
        Assert.Equal("logits [batch, 1000]", report.ToString().Split('\n').Single(l => l.Contains("output logits")).Trim()["output ".Length..]);
        foreach (long batch in new long[] { 1, 3 })
        {
            var input = randn(batch, 3, 64, 64);
            var eager = OnnxTestSupport.Eager(model, input, ["features.3"]);
            var ort = OnnxTestSupport.Run(path, input);
            OnnxTestSupport.AssertClose($"batch {batch} logits", eager[""], ort["logits"]);
            OnnxTestSupport.AssertClose($"batch {batch} features.3", eager["features.3"], ort["features.3"]);
        }
    }

    /// <summary>Opset 14 writes ConvNeXt's LayerNorm as its formula, opset 20 uses the Gelu operator; both equal eager.</summary>
    [Theory]
    [InlineData(14)]
    [InlineData(20)]
    public void OtherOpsetsExport(int opset)
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        using var model = ModelZoo.Create("convnext_tiny");
        var (_, report) = OnnxTestSupport.ExportAndCompare($"convnext_tiny opset {opset}", model, randn(1, 3, 64, 64), new OnnxExportOptions { Opset = opset },
            folder: Support.TempFolder.Create("onnx"));
        var proto = OnnxTestSupport.ReadModel(report.Path);
        Assert.Equal(opset, proto.OpsetImport.Single().Version);
        Assert.Equal(opset >= 17, proto.Graph.Node.Any(n => n.OpType == "LayerNormalization"));
        Assert.Equal(opset >= 20, proto.Graph.Node.Any(n => n.OpType == "Gelu"));
    }

    /// <summary>
    /// Folding: ResNet-18's 20 BatchNorms all disappear into convolutions (no BatchNormalization node, no Transpose or
    /// Reshape); without folding they stay, and both graphs compute the same logits.
    /// </summary>
    [Fact]
    public void BatchNormFoldsIntoConvolutions()
    {
        using var scope = NewDisposeScope();
        manual_seed(12);
        using var model = ModelZoo.Create("resnet18");
        OnnxTestSupport.RandomiseBatchNorm(model, 13);
        string folder = Support.TempFolder.Create("onnx");
        var folded = OnnxExporter.Export(model, Path.Combine(folder, "folded.onnx"), new OnnxExportOptions { InputShape = [3, 64, 64] });
        var plain = OnnxExporter.Export(model, Path.Combine(folder, "plain.onnx"), new OnnxExportOptions { InputShape = [3, 64, 64], FoldBatchNorm = false });
        Assert.Equal(20, folded.FoldedBatchNorms);
        Assert.Equal(0, plain.FoldedBatchNorms);
        var foldedOps = OnnxTestSupport.ReadModel(folded.Path).Graph.Node.Select(n => n.OpType).ToList();
        var plainOps = OnnxTestSupport.ReadModel(plain.Path).Graph.Node.Select(n => n.OpType).ToList();
        Assert.Equal(0, foldedOps.Count(o => o == "BatchNormalization"));
        Assert.Equal(20, plainOps.Count(o => o == "BatchNormalization"));
        Assert.DoesNotContain(foldedOps, o => o is "Transpose" or "Reshape");
        Assert.Equal(["Add", "Conv", "Flatten", "Gemm", "GlobalAveragePool", "MaxPool", "Relu"], foldedOps.Distinct().Order(StringComparer.Ordinal).ToList());
        var input = randn(1, 3, 64, 64);
        var a = OnnxTestSupport.Run(folded.Path, input)["logits"];
        var b = OnnxTestSupport.Run(plain.Path, input)["logits"];
        OnnxTestSupport.AssertClose("folded vs unfolded", b, a);
    }

    /// <summary>Asking for a convolution's own output keeps its BatchNorm apart, so that output exists.</summary>
    [Fact]
    public void RequestedConvolutionOutputIsNotFolded()
    {
        using var scope = NewDisposeScope();
        manual_seed(13);
        using var model = ModelZoo.Create("resnet18");
        OnnxTestSupport.RandomiseBatchNorm(model, 14);
        var report = OnnxExporter.Export(model, Path.Combine(Support.TempFolder.Create("onnx"), "m.onnx"),
            new OnnxExportOptions { InputShape = [3, 64, 64], Layers = ["layer1.0.conv1", "layer1.0.bn1"] });
        Assert.Equal(19, report.FoldedBatchNorms);
        OnnxTestSupport.ExportAndCompare("resnet18 conv output", model, randn(1, 3, 64, 64), new OnnxExportOptions { Layers = ["layer1.0.conv1", "layer1.0.bn1", "fc"] });
    }
}
