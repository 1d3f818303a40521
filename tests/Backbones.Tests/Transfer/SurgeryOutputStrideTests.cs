using Backbones.Models;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using Backbones.Transfer;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Tests.Transfer;

/// <summary>
/// Output stride changed on a built ResNet: the same outputs as torchvision built with replace_stride_with_dilation (and
/// as torchreid's last_stride=1) on the same weights, the same convolutions as our own build-time option, FeatureInfo updated.
/// </summary>
public sealed class SurgeryOutputStrideTests
{
    [Theory]
    [InlineData(16, "os16", new long[] { 4, 8, 16, 16 }, 4)]
    [InlineData(8, "os8", new long[] { 4, 8, 8, 8 }, 11)]
    public void DilatedPretrainedResNet50MatchesTorchvisionBuiltDilated(int outputStride, string reference, long[] reductions, int changed)
    {
        var (file, root) = SurgeryReference.Outputs();
        using var _ = file;
        using var scope = NewDisposeScope();
        using var model = ModelZoo.Create("resnet50", new ModelOptions { Weights = SurgeryReference.WeightsPath });

        var report = OutputStride.Set(model, outputStride);

        Assert.Equal(outputStride, report.OutputStride);
        Assert.Equal(reductions, model.FeatureInfo.Select(f => f.Reduction));
        Assert.Equal(reductions, report.FeatureInfo.Select(f => f.Reduction));
        // os16: layer4.0.conv2 and its downsample lose the stride, layer4.1/2.conv2 dilate by 2;
        // os8: the same in layer3 (1 + 1 + 5), and in layer4 with dilation 2 in its first block and 4 after (4).
        Assert.Equal(changed, report.Changes.Count);
        CompareWithReference(model, root, reference);
    }

    [Fact]
    public void LastStrideOneMatchesTorchreidOnTheSameWeights()
    {
        var (file, root) = SurgeryReference.Outputs();
        using var _ = file;
        using var scope = NewDisposeScope();
        using var model = ModelZoo.Create("resnet50", new ModelOptions { Weights = SurgeryReference.WeightsPath });

        var report = OutputStride.SetLastStride(model, 1);

        Assert.Equal(["layer4.0.conv2: stride 2→1", "layer4.0.downsample.0: stride 2→1"], report.Changes.Select(c => c.ToString()));
        Assert.Equal([4L, 8, 16, 16], model.FeatureInfo.Select(f => f.Reduction));
        Assert.Equal(1, ((Conv2d)Module(model, "layer4.1.conv2")).dilation[0]);
        CompareWithReference(model, root, "last1");
    }

    [Fact]
    public void GoingBackToStride32RestoresTheOriginalOutputs()
    {
        var (file, root) = SurgeryReference.Outputs();
        using var _ = file;
        using var scope = NewDisposeScope();
        using var model = ModelZoo.Create("resnet50", new ModelOptions { Weights = SurgeryReference.WeightsPath });

        OutputStride.Set(model, 8);
        var back = OutputStride.Set(model, 32);

        Assert.Equal(11, back.Changes.Count);
        Assert.Equal([4L, 8, 16, 32], model.FeatureInfo.Select(f => f.Reduction));
        CompareWithReference(model, root, "os32");
    }

    [Theory]
    [InlineData("resnet50", 16)]
    [InlineData("resnext50_32x4d", 8)]
    [InlineData("wide_resnet50_2", 4)]
    public void SurgeryGivesTheConvolutionsOfTheBuildTimeOption(string name, int outputStride)
    {
        bool[] dilate = outputStride switch { 16 => [false, false, true], 8 => [false, true, true], _ => [true, true, true] };
        using var built = ModelZoo.Create(name, new ModelOptions { ReplaceStrideWithDilation = dilate });
        using var model = ModelZoo.Create(name);

        OutputStride.Set(model, outputStride);

        Assert.Equal(Convolutions(built), Convolutions(model));
        Assert.Equal(built.FeatureInfo, model.FeatureInfo);
        StagesHaveTheSizesTheirReductionsSay(model);
    }

    [Fact]
    public void ReportsEachConvolutionChangedAndTheNewStageStrides()
    {
        using var model = ModelZoo.Create("resnet50");
        var report = OutputStride.Set(model, 16);
        Assert.Equal(
            "output stride 16; 4 convolutions changed:\n"
            + "  layer4.0.conv2: stride 2→1\n  layer4.0.downsample.0: stride 2→1\n"
            + "  layer4.1.conv2: dilation 1→2, padding 1→2\n  layer4.2.conv2: dilation 1→2, padding 1→2\n"
            + "  stage strides: layer1 4, layer2 8, layer3 16, layer4 16", report.ToString());
        Assert.Empty(OutputStride.Set(model, 16).Changes);
    }

    [Fact]
    public void BasicBlockResNetsTakeALastStrideOfOneButRefuseDilation()
    {
        using var scope = NewDisposeScope();
        using var model = ModelZoo.Create("resnet18");
        var before = Convolutions(model);

        var refused = Assert.Throws<NotSupportedException>(() => OutputStride.Set(model, 16));
        Assert.Contains("resnet18 is built from BasicBlocks, which torchvision does not dilate (layer4.1 would need dilation 2)", refused.Message);
        Assert.Equal(before, Convolutions(model)); // refused before changing anything

        var report = OutputStride.SetLastStride(model, 1);
        Assert.Equal(["layer4.0.conv1: stride 2→1", "layer4.0.downsample.0: stride 2→1"], report.Changes.Select(c => c.ToString()));
        model.eval();
        using (no_grad()) Assert.Equal([1L, 512, 4, 4], model.ForwardFeatures(randn(1, 3, 64, 64)).shape);
        StagesHaveTheSizesTheirReductionsSay(model);
    }

    [Fact]
    public void RefusesOtherFamiliesAndStrides()
    {
        using var vgg = ModelZoo.Create("squeezenet1_1");
        Assert.Contains("output-stride surgery applies to the ResNet family", Assert.Throws<ArgumentException>(() => OutputStride.Set(vgg, 16)).Message);
        using var resnet = ModelZoo.Create("resnet18");
        Assert.Throws<ArgumentOutOfRangeException>(() => OutputStride.Set(resnet, 12));
        Assert.Throws<ArgumentOutOfRangeException>(() => OutputStride.SetLastStride(resnet, 3));
    }

    static void CompareWithReference(Backbone model, PyDict root, string reference)
    {
        model.eval();
        using var capture = FeatureCapture.Attach(model, ["layer1", "layer2", "layer3", "layer4"]);
        Tensor logits;
        using (no_grad()) logits = model.call(SurgeryReference.At(root, "input"));
        ModelParity.AssertClose($"{reference} logits", SurgeryReference.At(root, "strides", reference, "logits"), logits);
        foreach (var layer in capture.Outputs.Keys)
            ModelParity.AssertClose($"{reference} {layer}", SurgeryReference.At(root, "strides", reference, layer), capture.Outputs[layer]);
    }

    /// <summary>Each FeatureInfo level's output on a 64² input is 64 / reduction pixels wide, with the declared channels.</summary>
    static void StagesHaveTheSizesTheirReductionsSay(Backbone model)
    {
        using var scope = NewDisposeScope();
        using var capture = FeatureCapture.Attach(model, model.FeatureInfo.Select(f => f.Module));
        model.eval();
        using (no_grad()) model.call(randn(1, 3, 64, 64));
        foreach (var f in model.FeatureInfo)
            Assert.Equal([1L, f.Channels, 64 / f.Reduction, 64 / f.Reduction], capture.Outputs[f.Module].shape);
    }

    static nn.Module Module(nn.Module model, string path) => model.named_modules().Single(m => m.name == path).module;

    static List<string> Convolutions(nn.Module model) => model.named_modules()
        .Where(m => m.module is Conv2d)
        .Select(m => (m.name, Conv: (Conv2d)m.module))
        .Select(c => $"{c.name} stride {string.Join(",", c.Conv.stride)} dilation {string.Join(",", c.Conv.dilation)} padding {string.Join(",", c.Conv.padding!)}")
        .ToList();
}
