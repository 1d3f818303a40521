using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Backbones.Models.Layers;

/// <summary>
/// torchvision's <c>ops.misc.SqueezeExcitation</c> ("Squeeze-and-Excitation Networks", Hu et al. 2017): global average
/// pool, 1×1 conv <c>fc1</c>, activation, 1×1 conv <c>fc2</c>, scale activation, times the input. The two activations
/// are the caller's: MobileNetV3 uses ReLU and Hardsigmoid, EfficientNet SiLU and Sigmoid.
/// </summary>
public sealed class SqueezeExcitation : Module<Tensor, Tensor>
{
    // Registration order is torchvision's attribute order: avgpool, fc1, fc2, activation, scale_activation.
    readonly AdaptiveAvgPool2d avgpool;
    readonly Conv2d fc1;
    readonly Conv2d fc2;
    readonly Module<Tensor, Tensor> activation;
    readonly Module<Tensor, Tensor> scale_activation;

    public SqueezeExcitation(long inputChannels, long squeezeChannels, Func<Module<Tensor, Tensor>> activation,
        Func<Module<Tensor, Tensor>> scaleActivation) : base(nameof(SqueezeExcitation))
    {
        avgpool = AdaptiveAvgPool2d(1);
        fc1 = Conv2d(inputChannels, squeezeChannels, 1);
        fc2 = Conv2d(squeezeChannels, inputChannels, 1);
        this.activation = activation();
        scale_activation = scaleActivation();
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var scale = scale_activation.call(fc2.call(activation.call(fc1.call(avgpool.call(input)))));
        return (scale * input).MoveToOuterDisposeScope();
    }
}
