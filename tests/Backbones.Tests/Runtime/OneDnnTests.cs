using Backbones.Models;
using Backbones.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Tests.Runtime;

public class OneDnnTests
{
    [Fact]
    public void DisableSwitchesOneDnnOffAndRestoresIt()
    {
        Assert.True(OneDnn.Enabled);
        using (OneDnn.Disable())
        {
            Assert.False(OneDnn.Enabled);
            using (OneDnn.Disable()) Assert.False(OneDnn.Enabled);
            Assert.False(OneDnn.Enabled);
        }
        Assert.True(OneDnn.Enabled);
    }

    /// <summary>
    /// ResNet-50's layer3 downsample (1×1, stride 2, 512 → 1024): its backward, which kills the process inside
    /// oneDNN on machines that hide their cache sizes, runs with oneDNN off, and its input gradient equals that of the
    /// same convolution written as subsampling followed by a stride-1 convolution.
    /// </summary>
    [Fact]
    public void BackwardOfAStridedPointwiseConvolutionMatchesItsSubsampledForm()
    {
        manual_seed(3);
        using var conv = nn.Conv2d(512, 1024, 1, stride: 2, bias: false);
        using var x = randn(2, 512, 8, 8, requires_grad: true);
        using var weights = randn(2, 1024, 4, 4);
        using (var loss = (conv.call(x) * weights).sum()) OneDnn.Backward(loss);
        using var strided = x.grad!.clone();

        using var y = x.detach().clone().requires_grad_(true);
        using var subsampled = y[.., .., TensorIndex.Slice(step: 2), TensorIndex.Slice(step: 2)];
        using (var loss = (nn.functional.conv2d(subsampled, conv.weight!) * weights).sum()) OneDnn.Backward(loss);

        Assert.True(OneDnn.Enabled);
        Assert.Equal(0, (strided - y.grad!).abs().max().item<float>(), 5);
        Assert.True(strided.abs().sum().item<float>() > 0);
    }

    /// <summary>
    /// The guard on a ResNet-50: exactly its three strided 1×1 convolutions are guarded; a probe placed on the input
    /// of layer3's downsample convolution sees oneDNN off in the backward (it runs right after that convolution's
    /// backward), oneDNN is on again afterwards, and every gradient equals the one of a backward with oneDNN off throughout.
    /// </summary>
    [Fact]
    public void GuardSwitchesOneDnnOffOnlyAroundStridedPointwiseBackwards()
    {
        manual_seed(5);
        using var model = ModelZoo.Create("resnet50", new ModelOptions { NumClasses = 4 });
        model.train();
        using var x = randn(2, 3, 64, 64);
        using var labels = tensor(new long[] { 1, 3 });
        var seen = new List<bool>();
        using (var guard = OneDnn.GuardBackward(model))
        {
            Assert.Equal(["layer2.0.downsample.0", "layer3.0.downsample.0", "layer4.0.downsample.0"], guard.GuardedModules);
            var conv = (nn.Module<Tensor, Tensor>)model.named_modules().First(m => m.name == "layer3.0.downsample.0").module;
            conv.register_forward_pre_hook((_, input) => FlagProbe.apply(input, seen)); // after the guard's, so it wraps the switched input
            using var loss = nn.functional.cross_entropy(model.call(x), labels);
            loss.backward();
        }
        Assert.Equal([false], seen);
        Assert.True(OneDnn.Enabled);
        var guarded = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());

        model.zero_grad();
        using (var loss = nn.functional.cross_entropy(model.call(x), labels)) OneDnn.Backward(loss);
        foreach (var (name, p) in model.named_parameters())
        {
            double relative = (guarded[name] - p.grad!).norm().item<float>() / Math.Max(p.grad!.norm().item<float>(), 1e-12);
            Assert.True(relative < 1e-4, $"{name}: gradient relative L2 {relative:E2} from the all-off backward's");
        }
    }

    /// <summary>Identity whose backward records whether oneDNN is on at that moment.</summary>
    sealed class FlagProbe : autograd.SingleTensorFunction<FlagProbe>
    {
        public override string Name => nameof(FlagProbe);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            ctx.save_data("seen", vars[1]);
            return ((Tensor)vars[0]).alias();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
        {
            ((List<bool>)ctx.get_data("seen")).Add(OneDnn.Enabled);
            return [grad, null!];
        }
    }
}
