using System.Diagnostics;
using System.Text.Json;
using Backbones.IO;
using Backbones.Models;
using Backbones.Onnx;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Vision;

/// <summary>How far an embedding run is: images done (resumed ones included) of the total, unreadable ones, speed.</summary>
public sealed record EmbedProgress(int Done, int Total, int Unreadable, int Resumed, double ImagesPerSecond);

/// <summary>What an embedding run did.</summary>
public sealed record EmbedReport(string Output, int Images, long Dimension, int Embedded, int Resumed, IReadOnlyList<ImageFailure> Unreadable, TimeSpan Elapsed)
{
    public override string ToString() =>
        $"wrote {Output}: {Images - Unreadable.Count} vectors of {Dimension} ({Embedded} embedded now" +
        (Resumed > 0 ? $", {Resumed} from an interrupted run" : "") + $"), {Unreadable.Count} unreadable images skipped, " +
        $"{(Embedded > 0 ? Embedded / Elapsed.TotalSeconds : 0):F1} images/s";
}

/// <summary>Options of <see cref="ImageEmbedder.Run"/>.</summary>
public sealed record EmbedOptions
{
    public ImagePipelineOptions Pipeline { get; init; } = new();

    /// <summary>Told after every batch.</summary>
    public IProgress<EmbedProgress>? Progress { get; init; }

    public CancellationToken Cancellation { get; init; }
}

/// <summary>
/// One feature vector per image: by default the model's pooled trunk (its global-average-pooled feature map, the
/// classifier's input for ResNet), or the output of a named module (<c>avgpool</c>, <c>layer3</c>), average-pooled over
/// its spatial positions when it has any. Owns the model.
/// </summary>
/// <remarks>
/// <see cref="Run"/> writes each finished batch to <c>OUTPUT.parts/</c> atomically, so a run that is stopped (Ctrl+C,
/// a crash, a reboot) and started again embeds only what was not written; the output is assembled in input order at
/// the end and the parts are removed. Unreadable images are listed in the report, skipped, and tried again on a re-run.
/// </remarks>
public sealed class ImageEmbedder : IDisposable
{
    readonly nn.Module<Tensor, Tensor>? _trunk;
    readonly FeatureExtractor? _extractor;
    readonly InferenceEngine? _engine;
    readonly Backbone? _engineModel;
    readonly string _description;

    ImageEmbedder(Backbone model, string? layer, ImagePreprocessing preprocessing, InferenceOptions? engine)
    {
        Preprocessing = preprocessing;
        Layer = layer;
        if (engine is { Engine: InferenceEngineKind.Onnx })
        {
            // ONNX Runtime runs the exported feature map (and the layer's output as an extra graph output).
            _engine = InferenceEngine.Create(model, engine with { Output = ModelOutput.Features, Layers = layer is null ? [] : [layer] });
            _engineModel = model;
        }
        else if (layer is null) _trunk = BackboneTrunk.Create(model, pooled: true);
        else _extractor = FeatureExtractor.Create(model, [layer]);
        // Fresh weights differ from run to run, so their vectors must never be mixed with another run's.
        _description = $"{model.Architecture} ({model.LoadedWeights?.File ?? $"random weights {Guid.NewGuid():N}"}), {layer ?? "pooled trunk"}";
    }

    /// <summary>
    /// An embedder of <paramref name="model"/>'s pooled trunk, or of module <paramref name="layer"/>; it owns the model.
    /// <paramref name="engine"/> chooses libtorch (the default) or ONNX Runtime, with its threads and optimisation level.
    /// </summary>
    public static ImageEmbedder Create(Backbone model, ImagePreprocessing preprocessing, string? layer = null, InferenceOptions? engine = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        model.eval();
        return new ImageEmbedder(model, layer, preprocessing, engine);
    }

    public ImagePreprocessing Preprocessing { get; }

    /// <summary>The module whose output is embedded; null for the pooled trunk.</summary>
    public string? Layer { get; }

    /// <summary>N × C vectors of a preprocessed batch (eval mode, no autograd).</summary>
    public Tensor Embed(Tensor images)
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        Tensor y;
        if (_engine is not null)
        {
            using var outputs = _engine.Run(images);
            y = (Layer is null ? outputs.Output : outputs.Layers[Layer]).clone();
        }
        else y = _trunk is not null ? _trunk.call(images) : _extractor!.call(images)[Layer!];
        if (y.dim() == 4) y = nn.functional.adaptive_avg_pool2d(y, 1);
        return y.flatten(1).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>Embeds <paramref name="files"/> into <paramref name="output"/> (.safetensors, .npy or .csv), resuming an interrupted run.</summary>
    public EmbedReport Run(IReadOnlyList<ImageFile> files, string output, EmbedOptions? options = null)
    {
        options ??= new EmbedOptions();
        EmbeddingFile.CheckExtension(output);
        var clock = Stopwatch.StartNew();
        var parts = new PartsFolder(output + ".parts", $"{_description}; {Preprocessing}");
        var done = parts.ReadDone();
        var todo = files.Where(f => !done.ContainsKey(f.Name)).DistinctBy(f => f.Name).ToList();
        int resumed = files.Select(f => f.Name).Distinct().Count(done.ContainsKey);
        var unreadable = new List<ImageFailure>();
        int embedded = 0;
        long dimension = done.Values.FirstOrDefault()?.Length ?? 0;
        foreach (var batch in ImagePipeline.Batches(todo, Preprocessing, options.Pipeline, options.Cancellation))
        {
            using (batch)
            {
                options.Cancellation.ThrowIfCancellationRequested();
                float[][] vectors = [];
                if (batch.Files.Count > 0)
                {
                    using var y = Embed(batch.Images);
                    dimension = y.shape[1];
                    var flat = y.data<float>().ToArray();
                    vectors = Enumerable.Range(0, batch.Files.Count).Select(r => flat.AsSpan((int)(r * dimension), (int)dimension).ToArray()).ToArray();
                    parts.Write(batch.Start, batch.Files.Select(f => f.Name).ToList(), y);
                }
                for (int r = 0; r < vectors.Length; r++) done[batch.Files[r].Name] = vectors[r];
                unreadable.AddRange(batch.Failures);
                embedded += batch.Files.Count;
                double rate = embedded / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
                options.Progress?.Report(new EmbedProgress(resumed + embedded + unreadable.Count, todo.Count + resumed, unreadable.Count, resumed, rate));
            }
        }

        var kept = files.Where(f => done.ContainsKey(f.Name)).ToList();
        using (var vectors = kept.Count == 0 ? zeros(0, dimension) : tensor(kept.SelectMany(f => done[f.Name]).ToArray(), [kept.Count, dimension]))
            EmbeddingFile.Write(output, vectors, kept.Select(f => f.Name).ToList(),
                new Dictionary<string, string> { ["model"] = _description, ["preprocessing"] = Preprocessing.ToString() });
        parts.Remove();
        return new EmbedReport(output, files.Count, dimension, embedded, resumed, unreadable, clock.Elapsed);
    }

    public void Dispose()
    {
        _trunk?.Dispose();
        _extractor?.Dispose();
        _engine?.Dispose();
        _engineModel?.Dispose();
    }

    /// <summary>
    /// The finished batches of a run: <c>settings.txt</c> (what made them; a run with other settings refuses to mix in)
    /// and one <c>part-START.safetensors</c> per batch (its vectors, its images' names as metadata).
    /// </summary>
    sealed class PartsFolder(string folder, string settings)
    {
        string SettingsFile => Path.Combine(folder, "settings.txt");

        public Dictionary<string, float[]> ReadDone()
        {
            var done = new Dictionary<string, float[]>(StringComparer.Ordinal);
            if (!Directory.Exists(folder)) return done;
            string? previous = File.Exists(SettingsFile) ? File.ReadAllText(SettingsFile) : null;
            if (previous != settings)
                throw new InvalidOperationException(
                    $"{folder} holds vectors of an interrupted run with other settings ({previous ?? "unknown"}; now {settings}): run again with those, or delete the folder");
            foreach (var part in Directory.EnumerateFiles(folder, "part-*.safetensors").Order(StringComparer.Ordinal))
            {
                using var checkpoint = Checkpoint.Load(part);
                var names = JsonSerializer.Deserialize<string[]>(checkpoint.Metadata["paths"])!;
                var vectors = (Tensor)((PyDict)checkpoint.Root!)["embeddings"]!;
                var flat = vectors.data<float>().ToArray();
                long width = vectors.shape[1];
                for (int r = 0; r < names.Length; r++) done[names[r]] = flat.AsSpan((int)(r * width), (int)width).ToArray();
            }
            return done;
        }

        public void Write(int start, IReadOnlyList<string> names, Tensor vectors)
        {
            if (!File.Exists(SettingsFile)) AtomicFile.Write(SettingsFile, s => s.Write(System.Text.Encoding.UTF8.GetBytes(settings)));
            Checkpoint.Save(Path.Combine(folder, $"part-{start:D9}-{Guid.NewGuid():N}.safetensors"), new PyDict { Ordered = true, ["embeddings"] = vectors },
                CheckpointFormat.SafeTensors, new Dictionary<string, string> { ["paths"] = JsonSerializer.Serialize(names) });
        }

        public void Remove()
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }
}
