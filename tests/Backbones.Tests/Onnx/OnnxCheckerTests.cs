using Backbones.Models;
using Backbones.Onnx;
using Backbones.Tests.Support;
using Backbones.Weights;
using static TorchSharp.torch;

namespace Backbones.Tests.Onnx;

/// <summary>
/// Debian's onnx 1.12 (python3-onnx) reads our files: onnx.checker.check_model(full_check=True) accepts every zoo
/// export (dynamic batch, extra feature outputs), external data, opset 14, and the metadata it reads is the catalogue's.
/// </summary>
public sealed class OnnxCheckerTests
{
    public static TheoryData<string> Models => new(ModelZoo.List());

    /// <summary>
    /// Weights go to external data here: onnx 1.12's checker copies an inline model several times (90 s for VGG-16's
    /// 553 MB under load) while the graph, types, shapes and tensor declarations it checks are the same either way.
    /// Inline files are checked by the other tests of this class.
    /// </summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void CheckerAcceptsEveryZooExport(string name)
    {
        OnnxChecker.Require();
        using var model = ModelZoo.Create(name);
        var layers = model.FeatureInfo.Select(f => f.Module).Distinct().ToList();
        string path = Path.Combine(TempFolder.Create("onnx-check"), name + ".onnx");
        OnnxExporter.Export(model, path, new OnnxExportOptions { DynamicBatch = true, InputShape = [3, 64, 64], Layers = layers, ExternalDataThreshold = 1024 });
        try
        {
            var result = OnnxChecker.AssertValid(path);
            Assert.Equal(17, result.Opsets[""]);
            Assert.Equal(8, result.IrVersion);
            Assert.Equal(["input", "batch", "3", "64", "64"], Flatten(result.Inputs.Single()));
            Assert.Equal(["logits", "batch", "1000"], Flatten(result.Outputs[0]));
            Assert.Equal(layers, result.Outputs.Skip(1).Select(o => o[0].GetString()!));
            // Where every BatchNorm follows a convolution, all of them fold (DenseNet's pre-activation ones cannot).
            if (!name.StartsWith("densenet", StringComparison.Ordinal)) Assert.False(result.Ops.ContainsKey("BatchNormalization"), "a BatchNorm was left unfolded");
        }
        finally
        {
            File.Delete(path);
            File.Delete(path + ".data");
        }
    }

    /// <summary>Catalogue weights put torchvision's preprocessing and the 1000 category names into metadata_props, as onnx reads them.</summary>
    [Fact]
    public void MetadataCarriesPreprocessingAndCategories()
    {
        OnnxChecker.Require();
        var weights = WeightsCatalogue.Find("resnet50", "IMAGENET1K_V2")!;
        using var model = ModelZoo.Create("resnet50");
        string path = Path.Combine(TempFolder.Create("onnx-check"), "resnet50.onnx");
        var report = OnnxExporter.Export(model, path, new OnnxExportOptions { Weights = weights, Metadata = new Dictionary<string, string> { ["license"] = "BSD-3-Clause" } });
        Assert.Equal([1L, 3, weights.Transforms!.CropSize, weights.Transforms.CropSize], report.Input.Shape);
        var result = OnnxChecker.AssertValid(path);
        Assert.Equal("Backbones", result.Producer[0]);
        Assert.Equal("resnet50", result.Metadata["architecture"]);
        Assert.Equal("ResNet50_Weights.IMAGENET1K_V2", result.Metadata["weights"]);
        Assert.Equal("232", result.Metadata["resize_size"]);
        Assert.Equal("224", result.Metadata["crop_size"]);
        Assert.Equal("bilinear", result.Metadata["interpolation"]);
        Assert.Equal([0.485, 0.456, 0.406], result.Metadata["mean"].Split(',').Select(double.Parse));
        Assert.Equal([0.229, 0.224, 0.225], result.Metadata["std"].Split(',').Select(double.Parse));
        Assert.Equal(weights.Categories, result.Metadata["categories"].Split('\n'));
        Assert.Equal("tench", result.Metadata["categories"].Split('\n')[0]);
        Assert.Equal("BSD-3-Clause", result.Metadata["license"]);
    }

    /// <summary>With a new 10-class head the 1000 ImageNet names no longer apply and are left out.</summary>
    [Fact]
    public void CategoriesAreLeftOutForANewHead()
    {
        using var model = ModelZoo.Create("resnet18", new ModelOptions { NumClasses = 10 });
        string path = Path.Combine(TempFolder.Create("onnx"), "resnet18.onnx");
        OnnxExporter.Export(model, path, new OnnxExportOptions { Weights = WeightsCatalogue.Find("resnet18", "DEFAULT"), InputShape = [3, 64, 64] });
        var metadata = OnnxTestSupport.ReadModel(path).MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        Assert.False(metadata.ContainsKey("categories"));
        Assert.Equal("10", metadata["num_classes"]);
        Assert.Equal("ResNet18_Weights.IMAGENET1K_V1", metadata["weights"]);
    }

    [Fact]
    public void CheckerAcceptsExternalData()
    {
        OnnxChecker.Require();
        using var model = ModelZoo.Create("efficientnet_b0");
        string path = Path.Combine(TempFolder.Create("onnx-check"), "b0.onnx");
        var report = OnnxExporter.Export(model, path, new OnnxExportOptions { InputShape = [3, 64, 64], ExternalDataThreshold = 4096 });
        Assert.NotNull(report.ExternalDataPath);
        OnnxChecker.AssertValid(path);
    }

    /// <summary>Inline weights (the default below 2 GB) as our encoder writes them around the tensors' bytes.</summary>
    [Theory]
    [InlineData("mobilenet_v3_small")]
    [InlineData("squeezenet1_0")]
    [InlineData("densenet121")]
    public void CheckerAcceptsInlineWeights(string name)
    {
        OnnxChecker.Require();
        using var model = ModelZoo.Create(name);
        string path = Path.Combine(TempFolder.Create("onnx-check"), name + ".onnx");
        var report = OnnxExporter.Export(model, path, new OnnxExportOptions { InputShape = [3, 64, 64] });
        Assert.Null(report.ExternalDataPath);
        OnnxChecker.AssertValid(path);
    }

    /// <summary>Opset 14 (LayerNorm as ReduceMean arithmetic) is valid for onnx too.</summary>
    [Fact]
    public void CheckerAcceptsOpset14()
    {
        OnnxChecker.Require();
        using var model = ModelZoo.Create("convnext_tiny");
        string path = Path.Combine(TempFolder.Create("onnx-check"), "convnext14.onnx");
        OnnxExporter.Export(model, path, new OnnxExportOptions { Opset = 14, InputShape = [3, 64, 64] });
        var result = OnnxChecker.AssertValid(path);
        Assert.Equal(14, result.Opsets[""]);
        Assert.Equal(7, result.IrVersion);
        Assert.False(result.Ops.ContainsKey("LayerNormalization"));
        Assert.True(result.Ops["ReduceMean"] > 0);
    }

    static List<string> Flatten(List<System.Text.Json.JsonElement> valueInfo) =>
        [valueInfo[0].GetString()!, .. valueInfo[1].EnumerateArray().Select(d => d.ValueKind == System.Text.Json.JsonValueKind.String ? d.GetString()! : d.GetInt64().ToString())];
}
