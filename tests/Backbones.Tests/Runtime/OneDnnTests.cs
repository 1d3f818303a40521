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
}
