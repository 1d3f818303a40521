using Backbones.Detection;

namespace Backbones.Vision;

/// <summary>The answer of <see cref="ImageDetector"/> for one file: the decoded image and its detections, or why it could not be read.</summary>
public sealed record DetectedImage(ImageFile File, DecodedImage? Image, IReadOnlyList<DetectedObject> Detections, string? Problem)
{
    public bool Succeeded => Problem is null;
}
