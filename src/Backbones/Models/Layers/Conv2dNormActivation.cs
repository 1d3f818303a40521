using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Backbones.Models.Layers;

/// <summary>
/// torchvision's <c>ops.misc.Conv2dNormActivation</c>: a Sequential of convolution, normalisation and activation,
/// numbered 0, 1, 2 as in PyTorch, with "same" padding for odd kernels and a bias only when there is no norm layer.
/// </summary>
public sealed class Conv2dNormActivation : Sequential
{
    /// <param name="norm">Builds the norm layer for the output channels; null for none (the convolution then has a bias).</param>
    /// <param name="activation">Builds the activation; null for none (a linear projection).</param>
    /// <param name="padding">Explicit padding instead of "same" (ConvNeXt's patchify stem: 0).</param>
    /// <param name="bias">A convolution bias even with a norm layer (ConvNeXt's stem), or none without one.</param>
    public Conv2dNormActivation(long inChannels, long outChannels, long kernelSize, long stride, long groups,
        Func<long, Module<Tensor, Tensor>>? norm, Func<Module<Tensor, Tensor>>? activation, long dilation = 1, long? padding = null, bool? bias = null)
        : base(Layers(inChannels, outChannels, kernelSize, stride, groups, norm, activation, dilation, padding, bias))
    {
        OutChannels = outChannels;
    }

    /// <summary>Channels this block produces.</summary>
    public long OutChannels { get; }

    static Module<Tensor, Tensor>[] Layers(long inChannels, long outChannels, long kernelSize, long stride, long groups,
        Func<long, Module<Tensor, Tensor>>? norm, Func<Module<Tensor, Tensor>>? activation, long dilation, long? explicitPadding, bool? bias)
    {
        long padding = explicitPadding ?? (kernelSize - 1) / 2 * dilation;
        var layers = new List<Module<Tensor, Tensor>>
        {
            Conv2d(inChannels, outChannels, kernelSize, stride: stride, padding: padding, dilation: dilation, groups: groups, bias: bias ?? norm is null),
        };
        if (norm is not null) layers.Add(norm(outChannels));
        if (activation is not null) layers.Add(activation());
        return [.. layers];
    }
}
