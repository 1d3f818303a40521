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
        using var work = new Work(files, preprocessing, options, cancellation);
        for (int b = 0; b < work.BatchCount; b++)
        {
            var batch = work.Take(b);
            yield return batch;
            work.Release(b);
        }
    }

    /// <summary>
    /// Workers claim files in input order, at most a window of (1 + prefetch) batches ahead of the consumer; the worker that
    /// finishes a batch's last file stacks the batch. Each slot is written by one worker and read after its batch completes.
    /// </summary>
    sealed class Work : IDisposable
    {
        readonly IReadOnlyList<ImageFile> _files;
        readonly ImagePreprocessing _preprocessing;
        readonly int _batchSize;
        readonly Tensor?[] _tensors;
        readonly ImageFailure?[] _failures;
        readonly int[] _remaining;
        readonly TaskCompletionSource<ImageBatch>[] _batches;
        readonly SemaphoreSlim _window;
        readonly CancellationTokenSource _stop;
        readonly Thread[] _threads;
        int _next = -1;
        int _taken; // batches handed to the caller, which owns them from then on

        public Work(IReadOnlyList<ImageFile> files, ImagePreprocessing preprocessing, ImagePipelineOptions options, CancellationToken cancellation)
        {
            _files = files;
            _preprocessing = preprocessing;
            _batchSize = options.BatchSize;
            BatchCount = (files.Count + _batchSize - 1) / _batchSize;
            _tensors = new Tensor?[files.Count];
            _failures = new ImageFailure?[files.Count];
            _remaining = Enumerable.Range(0, BatchCount).Select(Size).ToArray();
            _batches = Enumerable.Range(0, BatchCount).Select(_ => new TaskCompletionSource<ImageBatch>(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
            _window = new SemaphoreSlim(_batchSize * (1 + options.Prefetch));
            _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            _threads = Enumerable.Range(0, Math.Min(options.Workers, files.Count))
                .Select(i => new Thread(Loop) { IsBackground = true, Name = $"image pipeline {i}" }).ToArray();
            foreach (var t in _threads) t.Start();
        }

        public int BatchCount { get; }

        int Size(int batch) => Math.Min(_batchSize, _files.Count - batch * _batchSize);

        public ImageBatch Take(int batch)
        {
            var result = _batches[batch].Task.WaitAsync(_stop.Token).GetAwaiter().GetResult();
            _taken = batch + 1;
            return result;
        }

        public void Release(int batch) => _window.Release(Size(batch));

        void Loop()
        {
            try
            {
                while (true)
                {
                    _window.Wait(_stop.Token);
                    int i = Interlocked.Increment(ref _next);
                    if (i >= _files.Count) return;
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
                using var scope = NewDisposeScope();
                using var image = ImageDecoder.Decode(_files[i].Path).ToTensor();
                _tensors[i] = _preprocessing.Apply(image).MoveToOuterDisposeScope();
            }
            catch (ImageDecodeException e)
            {
                _failures[i] = new ImageFailure(i, _files[i], e.Problem);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _failures[i] = new ImageFailure(i, _files[i], $"{e.GetType().Name}: {e.Message}");
            }
        }

        void Complete(int batch)
        {
            try
            {
                int start = batch * _batchSize, end = start + Size(batch);
                var kept = Enumerable.Range(start, end - start).Where(i => _tensors[i] is not null).ToList();
                long crop = _preprocessing.CropSize;
                var images = kept.Count == 0
                    ? zeros(0, 3, crop, crop)
                    : stack(kept.Select(i => _tensors[i]!).ToArray());
                foreach (var i in kept)
                {
                    _tensors[i]!.Dispose();
                    _tensors[i] = null;
                }
                _batches[batch].TrySetResult(new ImageBatch(start, images, kept, kept.Select(i => _files[i]).ToList(),
                    Enumerable.Range(start, end - start).Where(i => _failures[i] is not null).Select(i => _failures[i]!).ToList()));
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
