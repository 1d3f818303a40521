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

    /// <summary>The batches of epoch <paramref name="epoch"/>; the caller disposes each. Leaving early stops the workers.</summary>
    public IEnumerable<DataBatch> Epoch(int epoch, CancellationToken cancellation = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        return BatchCount == 0 ? [] : Run(epoch, cancellation);
    }

    IEnumerable<DataBatch> Run(int epoch, CancellationToken cancellation)
    {
        using var work = new Work(this, epoch, cancellation);
        for (int b = 0; b < BatchCount; b++)
        {
            var batch = work.Take(b);
            if (batch.Failures.Count > 0)
                lock (_gate) _failures.AddRange(batch.Failures);
            yield return batch;
            work.Release(b);
        }
    }

    /// <summary>
    /// Workers claim positions of the epoch's order one at a time, at most (1 + prefetch) batches ahead of the consumer;
    /// the worker that finishes a batch's last sample stacks the batch. Each slot is written by one worker and read after
    /// its batch completes.
    /// </summary>
    sealed class Work : IDisposable
    {
        readonly DataLoader _loader;
        readonly int _epoch;
        readonly IReadOnlyList<int> _order;
        readonly int _batchSize;
        readonly int _positions;
        readonly Tensor?[] _tensors;
        readonly SampleFailure?[] _failures;
        readonly int[] _remaining;
        readonly TaskCompletionSource<DataBatch>[] _batches;
        readonly SemaphoreSlim _window;
        readonly CancellationTokenSource _stop;
        readonly Thread[] _threads;
        int _next = -1;
        int _taken; // batches handed to the caller, which owns them from then on

        public Work(DataLoader loader, int epoch, CancellationToken cancellation)
        {
            _loader = loader;
            _epoch = epoch;
            _order = loader.Order(epoch);
            _batchSize = loader.Options.BatchSize;
            int batches = loader.BatchCount;
            _positions = Math.Min(_order.Count, batches * _batchSize);
            _tensors = new Tensor?[_positions];
            _failures = new SampleFailure?[_positions];
            _remaining = Enumerable.Range(0, batches).Select(Size).ToArray();
            _batches = Enumerable.Range(0, batches).Select(_ => new TaskCompletionSource<DataBatch>(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
            _window = new SemaphoreSlim(_batchSize * (1 + loader.Options.Prefetch));
            _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            _threads = Enumerable.Range(0, Math.Min(loader.Options.Workers, _positions))
                .Select(i => new Thread(Loop) { IsBackground = true, Name = $"data loader {i}" }).ToArray();
            foreach (var t in _threads) t.Start();
        }

        int Size(int batch) => Math.Min(_batchSize, _positions - batch * _batchSize);

        public DataBatch Take(int batch)
        {
            var result = _batches[batch].Task.WaitAsync(_stop.Token).GetAwaiter().GetResult();
            _taken = batch + 1;
            return result;
        }

        public void Release(int batch) => _window.Release(Size(batch));

        void Loop()
        {
            WorkerThreads.UseOneThread();
            try
            {
                while (true)
                {
                    _window.Wait(_stop.Token);
                    int position = Interlocked.Increment(ref _next);
                    if (position >= _positions) return;
                    Prepare(position);
                    int batch = position / _batchSize;
                    if (Interlocked.Decrement(ref _remaining[batch]) == 0) Complete(batch);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        void Prepare(int position)
        {
            int index = _order[position];
            try
            {
                using var scope = NewDisposeScope();
                var image = _loader.Dataset.Read(index);
                var x = _loader.Transform.Apply(image, _loader.SampleRandom(_epoch, index));
                var (c, h, w) = _loader.Transform.OutputShape;
                if (x.dtype != ScalarType.Float32 || !x.shape.SequenceEqual([c, h, w]))
                    throw new InvalidOperationException($"the transform gave [{string.Join(", ", x.shape)}] {x.dtype}, not [{c}, {h}, {w}] Float32");
                _tensors[position] = x.MoveToOuterDisposeScope();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                string problem = e is Vision.ImageDecodeException d ? d.Problem : e is DatasetException f ? f.Problem : $"{e.GetType().Name}: {e.Message}";
                _failures[position] = new SampleFailure(_epoch, index, _loader.Dataset.Describe(index), problem);
            }
        }

        void Complete(int batch)
        {
            try
            {
                int start = batch * _batchSize, end = start + Size(batch);
                var kept = Enumerable.Range(start, end - start).Where(p => _tensors[p] is not null).ToList();
                var (c, h, w) = _loader.Transform.OutputShape;
                var images = kept.Count == 0 ? zeros(0, c, h, w) : stack(kept.Select(p => _tensors[p]!).ToArray());
                foreach (var p in kept)
                {
                    _tensors[p]!.Dispose();
                    _tensors[p] = null;
                }
                var indices = kept.Select(p => _order[p]).ToList();
                var labels = torch.tensor(indices.Select(i => (long)_loader.Dataset.Label(i)).ToArray(), ScalarType.Int64);
                var failures = Enumerable.Range(start, end - start).Where(p => _failures[p] is not null).Select(p => _failures[p]!).ToList();
                _batches[batch].TrySetResult(new DataBatch(_epoch, batch, images, labels, indices, failures));
            }
            catch (Exception e)
            {
                _batches[batch].TrySetException(e);
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            foreach (var t in _threads) t.Join();
            foreach (var b in _batches.Skip(_taken))
                if (b.Task.IsCompletedSuccessfully) b.Task.Result.Dispose();
            foreach (var t in _tensors) t?.Dispose();
            _window.Dispose();
            _stop.Dispose();
        }
    }
}
