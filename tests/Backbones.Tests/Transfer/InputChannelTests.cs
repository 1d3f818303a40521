using Backbones.Models;
using Backbones.Serialization;
using Backbones.Tests.Support;
using Backbones.Transfer;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Tests.Transfer;

/// <summary>
/// First-convolution input channels changed on built models and on checkpoints: the arithmetic identities timm's rule
/// gives (gray = RGB of a repeated image; zero extra channels = 3/C of the RGB response), timm's weights exactly as
/// PyTorch computes them, and torchvision's outputs for a model adapted that way.
/// </summary>
public sealed class InputChannelTests
{
    /// <summary>One model of each family (each has its own first-convolution path).</summary>
    public static TheoryData<string> OnePerFamily => new(
        "resnet18", "densenet121", "mobilenet_v2", "mobilenet_v3_small", "vgg11", "alexnet", "squeezenet1_1", "efficientnet_b0", "convnext_tiny");

    [Theory]
    [MemberData(nameof(OnePerFamily))]
    public void GrayModelOnAnImageEqualsTheRgbModelOnItRepeatedThreeTimes(string name)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var model = ModelZoo.Create(name);
        model.eval();
        var gray = rand(2, 1, 64, 64);
        Tensor rgbLogits;
        using (no_grad()) rgbLogits = model.call(gray.repeat(1, 3, 1, 1));
        var old = (Conv2d)model.named_modules().Single(m => m.name == model.FirstConvPath).module;
        var geometry = Geometry(old);

        var report = InputChannels.Set(model, 1);

        Assert.Equal((model.FirstConvPath, 3L, 1L), (report.Target, report.From, report.To));
        var conv = (Conv2d)model.named_modules().Single(m => m.name == model.FirstConvPath).module;
        Assert.Equal(1, conv.in_channels);
        Assert.Equal(geometry, Geometry(conv));
        Assert.False(conv.training, "the new convolution does not follow the model's eval mode");
        using (no_grad()) ModelParity.AssertClose($"{name} gray vs RGB logits", rgbLogits, model.call(gray), tolerance: 1e-5);
    }

    [Theory]
    [MemberData(nameof(OnePerFamily))]
    public void FourChannelFirstConvolutionOnAZeroFourthChannelGivesThreeQuartersOfTheRgbResponse(string name)
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        using var model = ModelZoo.Create(name);
        model.eval();
        string path = model.FirstConvPath;
        var x = rand(1, 3, 64, 64);
        var rgbConv = (Conv2d)model.named_modules().Single(m => m.name == path).module;
        Tensor rgb;
        using (no_grad()) rgb = rgbConv.call(x);
        var bias = rgbConv.bias?.detach().clone().reshape(1, -1, 1, 1) ?? zeros(1);

        InputChannels.Set(model, 4);

        var conv = (Conv2d)model.named_modules().Single(m => m.name == path).module;
        Tensor four;
        using (no_grad()) four = conv.call(cat([x, zeros(1, 1, 64, 64)], 1));
        // Weights ×3/4, bias kept: (W·x)·3/4 + b.
        ModelParity.AssertClose($"{name} {path}", (rgb - bias) * 0.75 + bias, four, tolerance: 1e-6);
        using (no_grad()) Assert.Equal(2, model.call(rand(2, 4, 64, 64)).shape[0]);
    }

    [Fact]
    public void AdaptsCheckpointWeightsExactlyAsTimmsRuleInPyTorch()
    {
        var (file, root) = SurgeryReference.Outputs();
        using var _ = file;
        using var scope = NewDisposeScope();
        foreach (long channels in new long[] { 1, 2, 4, 5, 6, 7 })
        {
            using var state = StateDict.Load(SurgeryReference.WeightsPath);
            var keys = state.Keys.ToList();
            var report = state.AdaptInputChannels("conv1.weight", channels);

            var expected = SurgeryReference.At(root, "adapt", channels.ToString());
            var ours = state["conv1.weight"];
            Assert.Equal(expected.shape, ours.shape);
            double maxDiff = (ours - expected).abs().max().item<float>();
            Assert.True(maxDiff == 0, $"{channels} channels: max |ours - timm| = {maxDiff:E2}");
            Assert.Equal(keys, state.Keys.ToList()); // the key keeps its place
            Assert.Equal(("conv1.weight", 3L, channels), (report.Target, report.From, report.To));
        }
    }

    [Fact]
    public void PretrainedWeightsLoadIntoAGrayModelAsTorchvisionRunsThemWithTimmsRule()
    {
        var (file, root) = SurgeryReference.Outputs();
        using var _ = file;
        using var scope = NewDisposeScope();
        using var model = ModelZoo.Create("resnet50", new ModelOptions { InChannels = 1, Weights = SurgeryReference.WeightsPath });

        Assert.NotNull(model.LoadedWeights!.InputAdapted);
        Assert.Equal(("conv1.weight", 3L, 1L), (model.LoadedWeights.InputAdapted!.Target, model.LoadedWeights.InputAdapted.From, model.LoadedWeights.InputAdapted.To));
        Assert.True(model.LoadedWeights.Report.IsComplete, model.LoadedWeights.ToString());
        Assert.Contains("first convolution adapted: conv1.weight: 3 → 1 input channels", model.LoadedWeights.ToString());
        model.eval();
        using (no_grad())
            ModelParity.AssertClose("resnet50 gray logits", SurgeryReference.At(root, "gray_logits"), model.call(SurgeryReference.At(root, "gray_input")));
    }

    [Fact]
    public void FourChannelSurgeryOnAPretrainedModelMatchesTorchvisionWithTimmsRule()
    {
        var (file, root) = SurgeryReference.Outputs();
        using var _ = file;
        using var scope = NewDisposeScope();
        using var model = ModelZoo.Create("resnet50", new ModelOptions { Weights = SurgeryReference.WeightsPath });

        var report = InputChannels.Set(model, 4);

        Assert.Equal("conv1: 3 → 4 input channels (the RGB filters repeated cyclically to 4 and scaled by 3/4)", report.ToString());
        model.eval();
        using (no_grad())
            ModelParity.AssertClose("resnet50 RGB-D logits", SurgeryReference.At(root, "rgbd_logits"), model.call(SurgeryReference.At(root, "rgbd_input")));
    }

    [Fact]
    public void KeepsTheKeyOrderAndTheFrozenStateOfTheFirstConvolution()
    {
        using var scope = NewDisposeScope();
        using var model = ModelZoo.Create("convnext_tiny");
        var keys = model.OrderedStateDict().Select(kv => kv.Key).ToList();
        var conv = (Conv2d)model.named_modules().Single(m => m.name == "features.0.0").module;
        conv.weight.requires_grad = false;
        var rgbBias = conv.bias!.detach().clone();

        InputChannels.Set(model, 2);

        Assert.Equal(keys, model.OrderedStateDict().Select(kv => kv.Key).ToList());
        var fresh = (Conv2d)model.named_modules().Single(m => m.name == "features.0.0").module;
        Assert.Equal([96L, 2, 4, 4], fresh.weight.shape);
        Assert.False(fresh.weight.requires_grad, "a frozen first convolution became trainable");
        Assert.True(fresh.bias!.requires_grad);
        Assert.True(rgbBias.equal(fresh.bias).all().item<bool>(), "the bias changed");
    }

    [Fact]
    public void RefusesWhatItCannotAdaptNamingTheModuleOrKey()
    {
        using var scope = NewDisposeScope();
        using var model = ModelZoo.Create("resnet18");
        var notConv = Assert.Throws<ArgumentException>(() => InputChannels.Set(model, "bn1", 1));
        Assert.Contains("'bn1' is a BatchNorm2d, not a Conv2d", notConv.Message);
        var missing = Assert.Throws<ArgumentException>(() => InputChannels.Set(model, "conv9", 1));
        Assert.Contains("no module 'conv9'", missing.Message);

        InputChannels.Set(model, 1);
        var fromGray = Assert.Throws<ArgumentException>(() => InputChannels.Set(model, 4));
        Assert.Contains("'conv1' has 1 input channels; adapting to 4 needs the 3-channel (RGB) weights", fromGray.Message);

        using var state = new StateDict();
        state.Add("fc.weight", zeros(10, 3));
        Assert.Contains("'fc.weight' has shape [10, 3], not a convolution weight", Assert.Throws<ArgumentException>(() => state.AdaptInputChannels("fc.weight", 1)).Message);
        Assert.Contains("no key 'conv1.weight'", Assert.Throws<KeyNotFoundException>(() => state.AdaptInputChannels("conv1.weight", 1)).Message);
    }

    static (long Out, string Kernel, string Stride, string Padding, string Dilation, bool Bias) Geometry(Conv2d c) =>
        (c.out_channels, string.Join(",", c.kernel_size), string.Join(",", c.stride), string.Join(",", c.padding!), string.Join(",", c.dilation), c.bias is not null);
}
