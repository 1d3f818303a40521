namespace Backbones.Models;

/// <summary>How to build a model of the zoo; every option defaults to torchvision's.</summary>
public sealed record ModelOptions
{
    /// <summary>Classifier outputs (torchvision: 1000).</summary>
    public long NumClasses { get; init; } = 1000;

    /// <summary>Channels of the input image (3 for RGB).</summary>
    public long InChannels { get; init; } = 3;

    /// <summary>Dropout before the classifier, where the family has one; null keeps the family's default.</summary>
    public double? DropRate { get; init; }

    /// <summary>
    /// Stochastic depth (drop path), where the family has it: torchvision's stochastic_depth_prob, which EfficientNet
    /// and ConvNeXt spread over their blocks rising linearly with depth; null keeps the family's default.
    /// </summary>
    public double? DropPathRate { get; init; }

    /// <summary>ResNet family: dilate instead of striding in layer2..layer4 (torchvision's replace_stride_with_dilation).</summary>
    public bool[]? ReplaceStrideWithDilation { get; init; }

    /// <summary>
    /// ResNet family: builds each norm layer from its channel count (torchvision's norm_layer), e.g.
    /// <c>c => new Detection.FrozenBatchNorm2d(c)</c> for detection backbones; null for BatchNorm2d.
    /// </summary>
    public Func<long, TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>>? NormLayer { get; init; }

    /// <summary>
    /// Weights to load: a weights set of the catalogue (<c>IMAGENET1K_V2</c>, <c>DEFAULT</c>, <c>ResNet50_Weights.IMAGENET1K_V2</c>),
    /// taken from torch hub's cache or downloaded into it, or the path of a .pth/.safetensors file; null for fresh weights.
    /// </summary>
    public string? Weights { get; init; }

    /// <summary>How to download catalogue weights that are not cached yet.</summary>
    public Weights.DownloadOptions? Download { get; init; }

    public static ModelOptions Default { get; } = new();
}
