using Backbones.Weights;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>How <see cref="ResNetFpn"/> builds a detection backbone; every option defaults to torchvision's <c>resnet_fpn_backbone</c>.</summary>
public sealed record ResNetFpnOptions
{
    /// <summary>
    /// How many of layer4, layer3, layer2, layer1 and conv1 (counted from layer4) stay trainable, 0–5; every other
    /// parameter of the body gets requires_grad false. With 5 the stem's norm (bn1) trains too, if it has parameters.
    /// </summary>
    public int TrainableLayers { get; init; } = 3;

    /// <summary>Which of layer1..layer4 feed the pyramid (each in 1–4), named "0", "1", ... in this order.</summary>
    public IReadOnlyList<int> ReturnedLayers { get; init; } = [1, 2, 3, 4];

    /// <summary>Builds the extra pyramid levels; null for <see cref="LastLevelMaxPool"/> ("pool").</summary>
    public Func<ExtraFpnBlock>? ExtraBlocks { get; init; }

    /// <summary>The ResNet's norm layer; null for <see cref="FrozenBatchNorm2d"/>, as torchvision recommends for detection.</summary>
    public Func<long, nn.Module<Tensor, Tensor>>? NormLayer { get; init; }

    /// <summary>The FPN's norm layer (torchvision's <c>_resnet_fpn_extractor</c> norm_layer); null for none.</summary>
    public Func<long, nn.Module<Tensor, Tensor>>? FpnNormLayer { get; init; }

    /// <summary>The ResNet's pretrained weights (a catalogue name such as <c>IMAGENET1K_V1</c>, or a file), loaded before the cut; null for fresh ones.</summary>
    public string? Weights { get; init; }

    /// <summary>How to download catalogue weights that are not cached yet.</summary>
    public DownloadOptions? Download { get; init; }

    public static ResNetFpnOptions Default { get; } = new();
}
