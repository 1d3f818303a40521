using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// What <c>backbones detect</c> and <see cref="Vision.ImageDetector"/> run: a detector in eval mode that takes decoded images
/// and gives torchvision's result dictionaries, with the names of its categories and keypoints.
/// </summary>
public interface IDetector : IDisposable
{
    /// <summary>Category names by label index, background first (Keypoint R-CNN: "no person", "person").</summary>
    IReadOnlyList<string> Categories { get; }

    /// <summary>Keypoint names in output order; empty for a detector without keypoints.</summary>
    IReadOnlyList<string> KeypointNames { get; }

    /// <summary>
    /// Per image (3×H×W float32 in [0, 1], any size), torchvision's result: <c>boxes</c> N×4 in that image's pixels,
    /// <c>labels</c> N int64, <c>scores</c> N, and for keypoints <c>keypoints</c> N×K×3, <c>keypoints_scores</c> N×K.
    /// The caller disposes the tensors returned.
    /// </summary>
    IReadOnlyList<IReadOnlyDictionary<string, Tensor>> Detect(IReadOnlyList<Tensor> images);
}
