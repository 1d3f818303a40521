using Backbones.Models.Layers;
using TorchSharp;
using TorchSharp.Modules;

namespace Backbones.Init;

/// <summary>
/// How to initialise a model by module type in one call (<c>model.Initialize</c>): a weight and
/// a bias scheme for convolutions, transposed convolutions, linear layers and normalisation layers; null leaves that
/// parameter as it is. The presets reproduce torchvision's per-family initialisations and the textbook schemes.
/// </summary>
public sealed record InitPolicy(string Name)
{
    public InitScheme? ConvWeight { get; init; }
    public InitScheme? ConvBias { get; init; }
    public InitScheme? ConvTransposeWeight { get; init; }
    public InitScheme? ConvTransposeBias { get; init; }
    public InitScheme? LinearWeight { get; init; }
    public InitScheme? LinearBias { get; init; }
    /// <summary>BatchNorm, InstanceNorm, GroupNorm, LayerNorm and ConvNeXt's LayerNorm2d.</summary>
    public InitScheme? NormWeight { get; init; }
    public InitScheme? NormBias { get; init; }

    /// <summary>The same weight scheme for every convolution and linear layer, biases 0, normalisation weight 1 and bias 0.</summary>
    public static InitPolicy Uniformly(string name, InitScheme weight) => new(name)
    {
        ConvWeight = weight, ConvBias = InitScheme.Zeros,
        ConvTransposeWeight = weight, ConvTransposeBias = InitScheme.Zeros,
        LinearWeight = weight, LinearBias = InitScheme.Zeros,
        NormWeight = InitScheme.Ones, NormBias = InitScheme.Zeros,
    };

    /// <summary>What PyTorch's constructors do: weights kaiming_uniform_(a=√5), biases U(±1/√fan_in), normalisation 1 and 0.</summary>
    public static InitPolicy TorchDefault { get; } = new("torch-default")
    {
        ConvWeight = InitScheme.TorchDefaultWeight, ConvBias = InitScheme.TorchDefaultBias,
        ConvTransposeWeight = InitScheme.TorchDefaultWeight, ConvTransposeBias = InitScheme.TorchDefaultBias,
        LinearWeight = InitScheme.TorchDefaultWeight, LinearBias = InitScheme.TorchDefaultBias,
        NormWeight = InitScheme.Ones, NormBias = InitScheme.Zeros,
    };

    /// <summary>Glorot normal with <paramref name="gain"/> (<see cref="Gain.Calculate"/> of the activation) everywhere.</summary>
    public static InitPolicy Xavier(double gain = 1, bool uniform = false) =>
        Uniformly(uniform ? "xavier-uniform" : "xavier-normal", uniform ? InitScheme.XavierUniform(gain) : InitScheme.XavierNormal(gain));

    /// <summary>He normal (or uniform) for the given nonlinearity and fan everywhere.</summary>
    public static InitPolicy Kaiming(FanMode mode = FanMode.FanIn, string nonlinearity = "relu", double a = 0, bool uniform = false) =>
        Uniformly($"kaiming-{(uniform ? "uniform" : "normal")}-{(mode == FanMode.FanIn ? "fan-in" : "fan-out")}-{nonlinearity}",
            uniform ? InitScheme.KaimingUniform(a, mode, nonlinearity) : InitScheme.KaimingNormal(a, mode, nonlinearity));

    /// <summary>N(0, std²) for every convolution and linear weight.</summary>
    public static InitPolicy Normal(double std) => Uniformly($"normal-{std.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)}", InitScheme.Normal(0, std));

    public static InitPolicy XavierNormal { get; } = Xavier();
    public static InitPolicy Normal001 { get; } = Normal(0.01);

    /// <summary>Convolutions kaiming_normal_(fan_out, relu); linear N(0, 0.01); normalisation 1, 0; biases 0 (torchvision's MobileNet and VGG).</summary>
    public static InitPolicy KaimingFanOutRelu { get; } = Uniformly("kaiming-fan-out-relu", InitScheme.KaimingNormal(0, FanMode.FanOut, "relu")) with { LinearWeight = InitScheme.Normal(0, 0.01) };

    /// <summary>torchvision's ResNet: convolutions kaiming_normal_(fan_out, relu); BatchNorm/GroupNorm 1, 0; Linear left at PyTorch's default.</summary>
    public static InitPolicy TorchvisionResNet { get; } = new("torchvision-resnet")
    {
        ConvWeight = InitScheme.KaimingNormal(0, FanMode.FanOut, "relu"), NormWeight = InitScheme.Ones, NormBias = InitScheme.Zeros,
    };

    /// <summary>torchvision's DenseNet: convolutions kaiming_normal_ (fan_in, gain √2); BatchNorm 1, 0; the classifier's bias 0, its weight at PyTorch's default.</summary>
    public static InitPolicy TorchvisionDenseNet { get; } = new("torchvision-densenet")
    {
        ConvWeight = InitScheme.KaimingNormal(), NormWeight = InitScheme.Ones, NormBias = InitScheme.Zeros, LinearBias = InitScheme.Zeros,
    };

    /// <summary>torchvision's EfficientNet: convolutions kaiming_normal_(fan_out), biases 0; BatchNorm 1, 0; Linear U(±1/√out_features).</summary>
    public static InitPolicy TorchvisionEfficientNet { get; } = new("torchvision-efficientnet")
    {
        ConvWeight = InitScheme.KaimingNormal(0, FanMode.FanOut), ConvBias = InitScheme.Zeros,
        NormWeight = InitScheme.Ones, NormBias = InitScheme.Zeros,
        LinearWeight = InitScheme.UniformInverseSqrtFan(FanMode.FanOut), LinearBias = InitScheme.Zeros,
    };

    /// <summary>torchvision's ConvNeXt: convolutions and linear layers trunc_normal_(std 0.02), biases 0; LayerNorms untouched.</summary>
    public static InitPolicy TorchvisionConvNeXt { get; } = new("torchvision-convnext")
    {
        ConvWeight = InitScheme.TruncNormal(std: 0.02), ConvBias = InitScheme.Zeros,
        LinearWeight = InitScheme.TruncNormal(std: 0.02), LinearBias = InitScheme.Zeros,
    };

    /// <summary>The module's kind and this policy's schemes for it; null for modules the policy does not know.</summary>
    internal (string Kind, InitScheme? Weight, InitScheme? Bias)? RuleFor(torch.nn.Module module) => module switch
    {
        ConvolutionTranspose => ("ConvTranspose", ConvTransposeWeight, ConvTransposeBias),
        Convolution => ("Conv", ConvWeight, ConvBias),
        Linear => ("Linear", LinearWeight, LinearBias),
        NormBase or GroupNorm or LayerNorm or LayerNorm2d => ("Norm", NormWeight, NormBias),
        _ => null,
    };

    public override string ToString() => Name;
}
