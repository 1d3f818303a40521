using static TorchSharp.torch;

namespace Backbones.Vision;

/// <summary>
/// Consecutive images of an <see cref="ImagePipeline"/>, preprocessed and stacked (N × 3 × crop × crop), with the files
/// they came from in the same order, and the files of that stretch that could not be read. Dispose to free the tensor.
/// </summary>
public sealed class ImageBatch : IDisposable
{
    internal ImageBatch(int start, Tensor images, IReadOnlyList<int> indices, IReadOnlyList<ImageFile> files, IReadOnlyList<ImageFailure> failures)
    {
        Start = start;
        Images = images;
        Indices = indices;
        Files = files;
        Failures = failures;
    }

    /// <summary>Position in the input list of the first file of this stretch.</summary>
    public int Start { get; }

    /// <summary>The model input: one row per readable file (N may be 0 when none was).</summary>
    public Tensor Images { get; }

    /// <summary>Position in the input list of each of <see cref="Images"/>' rows.</summary>
    public IReadOnlyList<int> Indices { get; }

    /// <summary>The files of <see cref="Images"/>' rows, in input order.</summary>
    public IReadOnlyList<ImageFile> Files { get; }

    /// <summary>Files of this stretch that could not be read, in input order.</summary>
    public IReadOnlyList<ImageFailure> Failures { get; }

    public void Dispose() => Images.Dispose();
}

/// <summary>A file that could not be read or preprocessed, its position in the input list, and why.</summary>
public sealed record ImageFailure(int Index, ImageFile File, string Problem)
{
    public override string ToString() => $"{File.Name}: {Problem}";
}
