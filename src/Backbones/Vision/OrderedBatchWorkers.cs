using static TorchSharp.torch;

namespace Backbones.Vision;

/// <summary>
/// Prepares items 0..count-1 into C×H×W tensors on worker threads and hands them out as stacked batches in order, at most
/// (1 + prefetch) batches ahead of the consumer; what the image pipeline and the data loader share. An item that fails is
/// left out of its batch and reported with it; the run goes on.
/// </summary>
/// <remarks>
/// Workers claim items in order, held back by a window of (1 + prefetch) batches; the worker that finishes a batch's last
/// item stacks the batch. Each slot is written by one worker and read after its batch completes.
/// </remarks>
internal sealed class OrderedBatchWorkers<TFailure, TBatch> : IDisposable
    where TFailure : class
    where TBatch : IDisposable
{
    /// <summary>Builds batch <paramref name="batch"/> from its stacked images, the items kept (in order) and the failures.</summary>
    public delegate TBatch Assemble(int batch, int start, Tensor images, IReadOnlyList<int> kept, IReadOnlyList<TFailure> failures);

    readonly int _count;
    readonly int _batchSize;
    readonly Func<int, Tensor> _prepare;
    readonly Func<int, Exception, TFailure> _fail;
    readonly long[] _itemShape;
    readonly Assemble _assemble;
    readonly Action? _workerStart;
    readonly Tensor?[] _tensors;
    readonly TFailure?[] _failures;
    readonly int[] _remaining;
    readonly TaskCompletionSource<TBatch>[] _batches;
    readonly SemaphoreSlim _window;
    readonly CancellationTokenSource _stop;
    readonly Thread[] _threads;
    int _next = -1;
    int _taken; // batches handed to the caller, which owns them from then on

    /// <param name="prepare">Item i's tensor, made on a worker thread (the workers dispose it once stacked).</param>
    /// <param name="fail">What to report for item i that threw (cancellation is not a failure).</param>
    /// <param name="itemShape">An item's shape, for the empty batch whose items all failed.</param>
    /// <param name="workerStart">Run first on each worker thread.</param>
    public OrderedBatchWorkers(int count, int batchSize, int workers, int prefetch, string threadName,
        Func<int, Tensor> prepare, Func<int, Exception, TFailure> fail, long[] itemShape, Assemble assemble,
        CancellationToken cancellation, Action? workerStart = null)
    {
        _count = count;
        _batchSize = batchSize;
        _prepare = prepare;
        _fail = fail;
        _itemShape = itemShape;
        _assemble = assemble;
        _workerStart = workerStart;
        BatchCount = (count + batchSize - 1) / batchSize;
        _tensors = new Tensor?[count];
        _failures = new TFailure?[count];
        _remaining = Enumerable.Range(0, BatchCount).Select(Size).ToArray();
        _batches = Enumerable.Range(0, BatchCount).Select(_ => new TaskCompletionSource<TBatch>(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        _window = new SemaphoreSlim(batchSize * (1 + prefetch));
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        _threads = Enumerable.Range(0, Math.Min(workers, count))
            .Select(i => new Thread(Loop) { IsBackground = true, Name = $"{threadName} {i}" }).ToArray();
        foreach (var t in _threads) t.Start();
    }

    public int BatchCount { get; }

    /// <summary>The batches in order; the caller owns each. A batch's slots are freed for the workers once the caller asks for the next.</summary>
    public IEnumerable<TBatch> Batches()
    {
        for (int b = 0; b < BatchCount; b++)
        {
            var batch = _batches[b].Task.WaitAsync(_stop.Token).GetAwaiter().GetResult();
            _taken = b + 1;
            yield return batch;
            _window.Release(Size(b));
        }
    }

    int Size(int batch) => Math.Min(_batchSize, _count - batch * _batchSize);

    void Loop()
    {
        _workerStart?.Invoke();
        try
        {
            while (true)
            {
                _window.Wait(_stop.Token);
                int i = Interlocked.Increment(ref _next);
                if (i >= _count) return;
                Prepare(i);
                int batch = i / _batchSize;
                if (Interlocked.Decrement(ref _remaining[batch]) == 0) Complete(batch);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    void Prepare(int i)
    {
        try
        {
            _tensors[i] = _prepare(i);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _failures[i] = _fail(i, e);
        }
    }

    void Complete(int batch)
    {
        try
        {
            int start = batch * _batchSize, end = start + Size(batch);
            var kept = Enumerable.Range(start, end - start).Where(i => _tensors[i] is not null).ToList();
            var images = kept.Count == 0 ? zeros([0, .. _itemShape]) : stack(kept.Select(i => _tensors[i]!).ToArray());
            foreach (var i in kept)
            {
                _tensors[i]!.Dispose();
                _tensors[i] = null;
            }
            var failures = Enumerable.Range(start, end - start).Where(i => _failures[i] is not null).Select(i => _failures[i]!).ToList();
            _batches[batch].TrySetResult(_assemble(batch, start, images, kept, failures));
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
