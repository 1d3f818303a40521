using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Vision;

/// <summary>Batching and parallelism of an <see cref="ImagePipeline"/>.</summary>
public sealed record ImagePipelineOptions
{
    /// <summary>Files per batch (a batch holds fewer images when some of its files cannot be read).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Threads decoding and preprocessing; by default one per core.</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>Batches prepared ahead of the one being consumed.</summary>
    public int Prefetch { get; init; } = 2;
}

/// <summary>
/// Decodes and preprocesses images on worker threads, in parallel, and hands them out as batches in input order on the
/// caller's thread, which is left free to run the model. A file that cannot be read is reported in its batch's
/// <see cref="ImageBatch.Failures"/> and skipped; the run goes on. At most <see cref="ImagePipelineOptions.Prefetch"/>
/// batches wait ahead of the caller, so memory stays bounded however long the list.
/// </summary>
public static class ImagePipeline
{
    public static IEnumerable<ImageBatch> Batches(IReadOnlyList<ImageFile> files, ImagePreprocessing preprocessing,
        ImagePipelineOptions? options = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(preprocessing);
        options ??= new ImagePipelineOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Workers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Prefetch, 1);
        return files.Count == 0 ? [] : Run(files, preprocessing, options, cancellation);
    }

    static IEnumerable<ImageBatch> Run(IReadOnlyList<ImageFile> files, ImagePreprocessing preprocessing, ImagePipelineOptions options, CancellationToken cancellation)
    {
        Tensor Prepare(int i)
        {
            using var scope = NewDisposeScope();
            using var image = ImageDecoder.Decode(files[i].Path).ToTensor();
            return preprocessing.Apply(image).MoveToOuterDisposeScope();
        }
        ImageFailure Fail(int i, Exception e) =>
            new(i, files[i], e is ImageDecodeException d ? d.Problem : $"{e.GetType().Name}: {e.Message}");
        using var work = new OrderedBatchWorkers<ImageFailure, ImageBatch>(files.Count, options.BatchSize, options.Workers, options.Prefetch,
            "image pipeline", Prepare, Fail, [3, preprocessing.CropSize, preprocessing.CropSize],
            (_, start, images, kept, failures) => new ImageBatch(start, images, kept, kept.Select(i => files[i]).ToList(), failures),
            cancellation);
        foreach (var batch in work.Batches()) yield return batch;
    }
}
