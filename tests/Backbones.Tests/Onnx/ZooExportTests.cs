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
        var (worst, _) = OnnxTestSupport.ExportAndCompare(name, model, input, new OnnxExportOptions { BatchSize = 2, Layers = layers });
        TestContext.Current.TestOutputHelper?.WriteLine($"{name}: max relative L2 {worst:E2}");
    }
}
