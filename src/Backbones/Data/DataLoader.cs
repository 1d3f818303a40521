using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Data;

/// <summary>
/// Batches of a dataset for training or validation: samples read and transformed on worker threads running a bounded
/// number of batches ahead of the caller, handed out in order as N×C×H×W float32 images with int64 labels.
/// </summary>
/// <remarks>
/// Everything random is a function of the seed: the order of epoch e comes from (seed, e), and sample i's augmentation
/// in epoch e from (seed, e, i), so a resumed run sees the same batches, and thread timing changes nothing. A sample
/// that cannot be read is left out of its batch and reported (<see cref="DataBatch.Failures"/>, <see cref="Failures"/>);
/// the epoch goes on. Workers run their tensor operations single-threaded (as PyTorch's workers do), leaving the
/// intra-op threads to the model.
/// </remarks>
public sealed class DataLoader
{
    readonly object _gate = new();
    readonly List<SampleFailure> _failures = [];

    public DataLoader(ILabeledDataset dataset, ISampleTransform transform, DataLoaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(transform);
        options ??= new DataLoaderOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Workers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Prefetch, 1);
        Dataset = dataset;
        Transform = transform;
        Options = options;
    }

    public ILabeledDataset Dataset { get; }

    public ISampleTransform Transform { get; }

    public DataLoaderOptions Options { get; }

    /// <summary>Batches an epoch has (the last one partial unless <see cref="DataLoaderOptions.DropLast"/>).</summary>
    public int BatchCount => Options.DropLast ? Dataset.Count / Options.BatchSize : (Dataset.Count + Options.BatchSize - 1) / Options.BatchSize;

    /// <summary>Every sample that could not be read, in the order the batches were handed out, over all epochs so far.</summary>
    public IReadOnlyList<SampleFailure> Failures
    {
        get
        {
            lock (_gate) return _failures.ToList();
        }
    }

    /// <summary>The dataset indices in the order epoch <paramref name="epoch"/> visits them (before any batch is dropped).</summary>
    public IReadOnlyList<int> Order(int epoch) =>
        Options.Shuffle ? DeterministicRandom.For(Options.Seed, epoch).Permutation(Dataset.Count) : Enumerable.Range(0, Dataset.Count).ToArray();

    /// <summary>The random stream that transforms sample <paramref name="index"/> in epoch <paramref name="epoch"/>.</summary>
    public DeterministicRandom SampleRandom(int epoch, int index) => DeterministicRandom.For(Options.Seed, epoch, index);

    /// <summary>
    /// The batches of epoch <paramref name="epoch"/> from batch <paramref name="firstBatch"/> on (a run resumed mid-epoch
    /// skips what it already trained on without reading it); the caller disposes each. Leaving early stops the workers.
    /// </summary>
    public IEnumerable<DataBatch> Epoch(int epoch, CancellationToken cancellation = default, int firstBatch = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        if (firstBatch < 0 || firstBatch > BatchCount)
            throw new ArgumentOutOfRangeException(nameof(firstBatch), firstBatch, $"an epoch has {BatchCount} batches");
        return BatchCount == firstBatch ? [] : Run(epoch, firstBatch, cancellation);
    }

    IEnumerable<DataBatch> Run(int epoch, int firstBatch, CancellationToken cancellation)
    {
        // Positions count from the first batch asked for; batch numbers stay those of the whole epoch.
        var order = Order(epoch).Skip(firstBatch * Options.BatchSize).ToList();
        var (c, h, w) = Transform.OutputShape;
        Tensor Prepare(int position)
        {
            int index = order[position];
            using var scope = NewDisposeScope();
            var x = Transform.Apply(Dataset.Read(index), SampleRandom(epoch, index));
            if (x.dtype != ScalarType.Float32 || !x.shape.SequenceEqual([c, h, w]))
                throw new InvalidOperationException($"the transform gave [{string.Join(", ", x.shape)}] {x.dtype}, not [{c}, {h}, {w}] Float32");
            return x.MoveToOuterDisposeScope();
        }
        SampleFailure Fail(int position, Exception e)
        {
            int index = order[position];
            string problem = e is Vision.ImageDecodeException d ? d.Problem : e is DatasetException f ? f.Problem : $"{e.GetType().Name}: {e.Message}";
            return new SampleFailure(epoch, index, Dataset.Describe(index), problem);
        }
        DataBatch Assemble(int batch, int start, Tensor images, IReadOnlyList<int> kept, IReadOnlyList<SampleFailure> failures)
        {
            var indices = kept.Select(p => order[p]).ToList();
            var labels = torch.tensor(indices.Select(i => (long)Dataset.Label(i)).ToArray(), ScalarType.Int64);
            return new DataBatch(epoch, firstBatch + batch, images, labels, indices, failures);
        }
        // Positions past the last full batch are never read when it drops the partial one.
        int positions = Math.Min(order.Count, (BatchCount - firstBatch) * Options.BatchSize);
        using var work = new Vision.OrderedBatchWorkers<SampleFailure, DataBatch>(positions, Options.BatchSize, Options.Workers, Options.Prefetch,
            "data loader", Prepare, Fail, [c, h, w], Assemble, cancellation, WorkerThreads.UseOneThread);
        foreach (var batch in work.Batches())
        {
            if (batch.Failures.Count > 0)
                lock (_gate) _failures.AddRange(batch.Failures);
            yield return batch;
        }
    }
}
