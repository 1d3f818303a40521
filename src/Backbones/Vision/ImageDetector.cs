using Backbones.Detection;
using static TorchSharp.torch;

namespace Backbones.Vision;

/// <summary>
/// Runs a detector over image files: each decoded upright, given to it as 3×H×W float32 in [0, 1] without autograd, its
/// result turned into named detections above a score. Unreadable files come out in their place with their problem.
/// </summary>
public sealed class ImageDetector(IDetector detector)
{
    public IDetector Detector => detector;

    /// <summary>One file at a time, in order; detections with a score of at least <paramref name="minScore"/>.</summary>
    public IEnumerable<DetectedImage> Detect(IReadOnlyList<ImageFile> files, float minScore = 0.5f)
    {
        foreach (var file in files)
        {
            var (image, problem) = TryDecode(file.Path);
            yield return image is null ? new DetectedImage(file, null, [], problem) : new DetectedImage(file, image, Run(image, minScore), null);
        }
    }

    static (DecodedImage?, string?) TryDecode(string path)
    {
        try
        {
            return (ImageDecoder.Decode(path), null);
        }
        catch (ImageDecodeException e)
        {
            return (null, e.Problem);
        }
    }

    IReadOnlyList<DetectedObject> Run(DecodedImage image, float minScore)
    {
        using var scope = NewDisposeScope();
        var input = ImageTransforms.ToFloat(image.ToTensor());
        IReadOnlyList<IReadOnlyDictionary<string, Tensor>> results;
        using (inference_mode()) results = detector.Detect([input]);
        if (results.Count != 1) throw new InvalidOperationException($"the detector gave {results.Count} results for one image");
        return DetectedObject.From(results[0], detector.Categories, detector.KeypointNames, minScore);
    }
}
