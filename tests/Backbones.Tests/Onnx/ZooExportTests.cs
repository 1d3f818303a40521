using Backbones.Models;
using Backbones.Onnx;
using static TorchSharp.torch;

namespace Backbones.Tests.Onnx;

/// <summary>
/// Every architecture of the zoo, with random weights and random BatchNorm statistics, exported and run by ONNX
/// Runtime: logits and every feature level equal our eager eval outputs within relative L2 1e-5.
/// </summary>
public sealed class ZooExportTests
{
    public static TheoryData<string> Models => new(ModelZoo.List());

    /// <summary>Above this many weight bytes the file keeps its weights externally, which ONNX Runtime loads several times faster.</summary>
    const long ExternalAbove = 200_000_000;

    /// <summary>
    /// 64 px keeps CPU low; AlexNet's and VGG's adaptive pools then take the uneven-bin path, SqueezeNet's ceil pools
    /// pad. The largest models (VGG, ConvNeXt-L, the wide and 101-layer ResNeXts) keep their weights in external data.
    /// </summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void ExportMatchesEagerOutputs(string name)
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        using var model = ModelZoo.Create(name);
        OnnxTestSupport.RandomiseBatchNorm(model);
        var layers = model.FeatureInfo.Select(f => f.Module).Distinct().ToList();
        var input = randn(2, 3, 64, 64);
        long bytes = model.parameters().Sum(p => p.NumberOfElements) * sizeof(float);
        var options = new OnnxExportOptions { BatchSize = 2, Layers = layers, ExternalDataThreshold = bytes > ExternalAbove ? 1 << 20 : null };
        double worst = OnnxTestSupport.ExportAndCompare(name, model, input, options);
        TestContext.Current.TestOutputHelper?.WriteLine($"{name}: max relative L2 {worst:E2}");
    }
}
