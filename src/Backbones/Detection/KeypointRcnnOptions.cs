using Backbones.Weights;

namespace Backbones.Detection;

/// <summary>How <see cref="KeypointRcnn"/> builds torchvision's <c>keypointrcnn_resnet50_fpn</c>; every default is torchvision 0.14's.</summary>
public sealed record KeypointRcnnOptions
{
    /// <summary>The whole detector's weights: a catalogue name (<c>COCO_V1</c>, <c>COCO_LEGACY</c>, <c>DEFAULT</c>) or a .pth/.safetensors file; null for fresh ones.</summary>
    public string? Weights { get; init; }

    /// <summary>The ResNet-50's ImageNet weights for a fresh detector (torchvision's <c>weights_backbone</c>), e.g. <c>IMAGENET1K_V1</c>; ignored with <see cref="Weights"/>.</summary>
    public string? WeightsBackbone { get; init; }

    /// <summary>Categories with the background; 2 (no person, person) as the COCO weights.</summary>
    public int NumClasses { get; init; } = 2;

    /// <summary>Keypoints per object; 17 as COCO's person.</summary>
    public int NumKeypoints { get; init; } = 17;

    /// <summary>
    /// Trainable ResNet stages counted from layer4 (0–5). Null gives torchvision's choice: 3 when any weights are
    /// loaded, 5 (everything) for a fresh detector. With weights the ResNet uses FrozenBatchNorm2d, without BatchNorm2d.
    /// </summary>
    public int? TrainableBackboneLayers { get; init; }

    /// <summary>The transform's sizes; torchvision's Keypoint R-CNN draws the shorter side from 640–800 in training and uses 800 in evaluation.</summary>
    public RcnnTransformOptions Transform { get; init; } = RcnnTransformOptions.KeypointRcnn;

    public RpnOptions Rpn { get; init; } = RpnOptions.Default;

    public RoiHeadsOptions RoiHeads { get; init; } = new();

    /// <summary>How to download catalogue weights that are not cached yet.</summary>
    public DownloadOptions? Download { get; init; }
}
