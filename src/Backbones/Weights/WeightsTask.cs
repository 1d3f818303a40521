namespace Backbones.Weights;

/// <summary>What a weights set was trained for: the sections of torchvision's weights metadata.</summary>
public enum WeightsTask
{
    Classification,
    KeypointDetection,
}
