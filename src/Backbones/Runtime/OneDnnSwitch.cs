using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Runtime;

/// <summary>
/// An identity in the forward pass whose backward sets libtorch's oneDNN switch: placed around one convolution, it
/// turns oneDNN off just before that convolution's backward runs and back on just after (see <see cref="OneDnnBackwardGuard"/>).
/// </summary>
sealed class OneDnnSwitch : autograd.SingleTensorFunction<OneDnnSwitch>
{
    public override string Name => nameof(OneDnnSwitch);

    /// <summary>vars: the tensor, and whether oneDNN is on in the backward pass from this point on.</summary>
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        ctx.save_data("enabled", vars[1]);
        return ((Tensor)vars[0]).alias();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        OneDnn.Enabled = (bool)ctx.get_data("enabled");
        return [grad, null!]; // no gradient for the flag
    }
}
