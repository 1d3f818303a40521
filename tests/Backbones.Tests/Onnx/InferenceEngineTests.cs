using Backbones.Models;
using Backbones.Onnx;
using Backbones.Tests.Support;
using static TorchSharp.torch;

namespace Backbones.Tests.Onnx;

/// <summary>
/// The two engines give the same outputs within 1e-5; the ONNX engine exports once per weights and input shape into
/// its cache, and exports again when the weights change.
/// </summary>
public sealed class InferenceEngineTests
{
    [Theory]
    [InlineData("resnet18", ModelOutput.Logits)]
    [InlineData("efficientnet_b0", ModelOutput.Logits)]
    [InlineData("densenet121", ModelOutput.PreLogits)]
    [InlineData("convnext_tiny", ModelOutput.Features)]
    public void OnnxEngineMatchesTorchEngine(string name, ModelOutput output)
    {
        using var scope = NewDisposeScope();
        manual_seed(40);
        using var model = ModelZoo.Create(name);
        OnnxTestSupport.RandomiseBatchNorm(model, 40);
        var layers = model.FeatureInfo.Select(f => f.Module).Take(2).ToList();
        string cache = TempFolder.Create("onnx-cache");
        var input = randn(2, 3, 64, 64);
        using var torchEngine = InferenceEngine.Create(model, new InferenceOptions { Output = output, Layers = layers });
        using var onnxEngine = InferenceEngine.Create(model, new InferenceOptions { Engine = InferenceEngineKind.Onnx, Output = output, Layers = layers, CacheDirectory = cache, Threads = 2 });
        using var expected = torchEngine.Run(input);
        using var actual = onnxEngine.Run(input);
        OnnxTestSupport.AssertClose($"{name} {output}", expected.Output, actual.Output);
        Assert.Equal(layers, actual.Layers.Keys);
        foreach (var layer in layers) OnnxTestSupport.AssertClose($"{name} {layer}", expected.Layers[layer], actual.Layers[layer]);
        Assert.StartsWith("ONNX Runtime 1.", onnxEngine.Description);
    }

    [Fact]
    public void ExportsOncePerWeightsAndShape()
    {
        using var scope = NewDisposeScope();
        manual_seed(41);
        using var model = ModelZoo.Create("mobilenet_v3_small");
        string cache = TempFolder.Create("onnx-cache");
        var options = new InferenceOptions { Engine = InferenceEngineKind.Onnx, CacheDirectory = cache };

        (string Path, bool Hit) first, second, third, resized;
        using (var engine = InferenceEngine.Create(model, options))
        {
            using var _ = engine.Run(randn(1, 3, 64, 64));
            first = ((OnnxEngine)engine).LastExport!.Value;
            using var __ = engine.Run(randn(3, 3, 64, 64)); // another batch size: the same session
            Assert.Equal(first, ((OnnxEngine)engine).LastExport!.Value);
            using var ___ = engine.Run(randn(1, 3, 96, 96));
            resized = ((OnnxEngine)engine).LastExport!.Value;
        }
        using (var engine = InferenceEngine.Create(model, options))
        {
            using var _ = engine.Run(randn(1, 3, 64, 64));
            second = ((OnnxEngine)engine).LastExport!.Value;
        }
        // A cache entry whose weights file went missing is written again.
        File.Delete(first.Path + ".data");
        using (var engine = InferenceEngine.Create(model, options))
        {
            using var _ = engine.Run(randn(1, 3, 64, 64));
            Assert.Equal((first.Path, false), ((OnnxEngine)engine).LastExport!.Value);
        }
        using (no_grad()) model.named_parameters().First().parameter.add_(0.01);
        using (var engine = InferenceEngine.Create(model, options))
        {
            using var _ = engine.Run(randn(1, 3, 64, 64));
            third = ((OnnxEngine)engine).LastExport!.Value;
        }
        Assert.False(first.Hit);
        Assert.False(resized.Hit);
        Assert.NotEqual(first.Path, resized.Path);
        Assert.Equal((first.Path, true), second);
        Assert.False(third.Hit);
        Assert.NotEqual(first.Path, third.Path);
        Assert.Equal(3, Directory.GetFiles(cache, "*.onnx").Length);
        Assert.Equal(3, Directory.GetFiles(cache, "*.onnx.data").Length);
        Assert.StartsWith("mobilenet_v3_small-", Path.GetFileName(first.Path));
    }

    /// <summary>Threads and optimisation level change how ONNX Runtime runs, not what it computes.</summary>
    [Fact]
    public void ThreadsAndOptimisationKeepTheNumbers()
    {
        using var scope = NewDisposeScope();
        manual_seed(42);
        using var model = ModelZoo.Create("resnet18");
        OnnxTestSupport.RandomiseBatchNorm(model, 42);
        string cache = TempFolder.Create("onnx-cache");
        var input = randn(1, 3, 64, 64);
        using var reference = InferenceEngine.Create(model);
        using var expected = reference.Run(input);
        foreach (var level in Enum.GetValues<OnnxOptimization>())
        {
            using var engine = InferenceEngine.Create(model, new InferenceOptions { Engine = InferenceEngineKind.Onnx, CacheDirectory = cache, Threads = 1, Optimization = level });
            using var actual = engine.Run(input);
            OnnxTestSupport.AssertClose($"optimisation {level}", expected.Output, actual.Output);
        }
    }

    [Fact]
    public void BothEnginesNameAnUnknownLayer()
    {
        using var model = ModelZoo.Create("resnet18");
        foreach (var kind in Enum.GetValues<InferenceEngineKind>())
        {
            var e = Assert.Throws<ArgumentException>(() => InferenceEngine.Create(model, new InferenceOptions { Engine = kind, Layers = ["layer9"] }));
            Assert.StartsWith("no module 'layer9' with a tensor output", e.Message);
        }
    }
}
