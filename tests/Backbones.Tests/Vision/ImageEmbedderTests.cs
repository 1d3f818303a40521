using System.Text.Json;
using Backbones.Models;
using Backbones.Onnx;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using Backbones.Transfer;
using Backbones.Vision;
using static TorchSharp.torch;

namespace Backbones.Tests.Vision;

/// <summary>Embedding vectors against PyTorch's avgpool output, the three formats read back (numpy for .npy and .csv), and resuming.</summary>
public class ImageEmbedderTests
{
    static readonly ImagePreprocessing Small = new() { ResizeSize = 72, CropSize = 64 };
    static readonly string[] Names = ["rgb.png", "palette.png", "gray.png", "baseline.jpg"];

    [Fact]
    public void WritesPyTorchsAvgpoolVectorsReadableByNumpy()
    {
        var paths = Names.Select(ReferenceImages.Path).ToArray();
        string reference = TempFolder.Create("embed-ref");
        var (code, output, error) = PyTorch.RunScript("classify_parity.py",
            [reference, "resnet18", "--resize", "72", "--crop", "64", "--features", "avgpool", .. paths]);
        Assert.True(code == 0, output + error);
        string expected = Path.Combine(reference, "logits.pth");

        string folder = TempFolder.Create("embed");
        using var embedder = ImageEmbedder.Create(ModelZoo.Create("resnet18", new ModelOptions { Weights = Path.Combine(reference, "resnet18.pth") }), Small);
        foreach (var file in new[] { "vectors.npy", "vectors.csv" })
        {
            var report = embedder.Run(ImageFile.Of(paths), Path.Combine(folder, file), new EmbedOptions { Pipeline = new() { BatchSize = 3 } });
            Assert.Equal((4, 512L, 4, 0), (report.Images, report.Dimension, report.Embedded, report.Unreadable.Count));
            var (readCode, read, readError) = PyTorch.RunScript("read_embeddings.py", expected, Path.Combine(folder, file));
            Assert.True(readCode == 0, read + readError);
            using var doc = JsonDocument.Parse(read);
            Assert.Equal([4, 512], doc.RootElement.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
            Assert.Equal("float32", doc.RootElement.GetProperty("dtype").GetString());
            Assert.Equal(paths, doc.RootElement.GetProperty("names").EnumerateArray().Select(e => e.GetString()));
            Assert.InRange(doc.RootElement.GetProperty("max_abs_diff").GetDouble(), 0, 1e-4);
        }

        string safetensors = Path.Combine(folder, "vectors.safetensors");
        embedder.Run(ImageFile.Of(paths), safetensors);
        using var ours = Checkpoint.Load(safetensors);
        using var theirs = Checkpoint.Load(expected);
        var vectors = (Tensor)((PyDict)ours.Root!)["embeddings"]!;
        Assert.True(vectors.allclose((Tensor)((PyDict)theirs.Root!)["features"]!, rtol: 0, atol: 1e-4));
        Assert.Equal(paths, JsonSerializer.Deserialize<string[]>(ours.Metadata["paths"]));
        Assert.Equal(paths, File.ReadAllLines(Path.Combine(folder, "vectors.paths.txt")));
        Assert.False(Directory.Exists(safetensors + ".parts"));
    }

    [Fact]
    public void NamedLayerIsPooledOverItsPositions()
    {
        var paths = ImageFile.Of(Names.Take(2).Select(ReferenceImages.Path));
        using var scope = NewDisposeScope();
        using var batch = ImagePipeline.Batches(paths, Small, cancellation: TestContext.Current.CancellationToken).Single();
        string weights = FreshWeights(TempFolder.Create("layer"));
        using var byTrunk = ImageEmbedder.Create(ModelZoo.Create("resnet18", new ModelOptions { Weights = weights }), Small);
        using var byAvgpool = ImageEmbedder.Create(ModelZoo.Create("resnet18", new ModelOptions { Weights = weights }), Small, "avgpool");
        using var byLayer3 = ImageEmbedder.Create(ModelZoo.Create("resnet18"), Small, "layer3");
        var trunk = byTrunk.Embed(batch.Images);
        Assert.Equal([2L, 512], trunk.shape);
        Assert.True(trunk.allclose(byAvgpool.Embed(batch.Images), rtol: 0, atol: 0));
        Assert.Equal([2L, 256], byLayer3.Embed(batch.Images).shape);
    }

    [Fact]
    public void OnnxEngineGivesTheTorchEnginesVectors()
    {
        var paths = ImageFile.Of(Names.Take(3).Select(ReferenceImages.Path));
        using var scope = NewDisposeScope();
        using var batch = ImagePipeline.Batches(paths, Small, cancellation: TestContext.Current.CancellationToken).Single();
        string weights = FreshWeights(TempFolder.Create("engine"));
        var onnx = new InferenceOptions { Engine = InferenceEngineKind.Onnx, CacheDirectory = TempFolder.Create("engine-cache") };
        foreach (var layer in new string?[] { null, "layer3" })
        {
            using var byTorch = ImageEmbedder.Create(ModelZoo.Create("resnet18", new ModelOptions { Weights = weights }), Small, layer);
            using var byOnnx = ImageEmbedder.Create(ModelZoo.Create("resnet18", new ModelOptions { Weights = weights }), Small, layer, onnx);
            var expected = byTorch.Embed(batch.Images);
            var got = byOnnx.Embed(batch.Images);
            Assert.Equal(expected.shape, got.shape);
            double relative = (got - expected).norm().item<float>() / expected.norm().item<float>();
            Assert.True(relative <= 1e-5, $"{layer ?? "trunk"}: relative L2 {relative:G3}");
        }
    }

    [Fact]
    public void InterruptedRunResumesWithWhatWasWrittenAndListsUnreadableImages()
    {
        string folder = TempFolder.Create("resume");
        // 14 files, two unreadable; batches of 3.
        var files = Enumerable.Range(0, 14)
            .Select(i => i is 4 or 11 ? ReferenceImages.Path("truncated.jpg") : ReferenceImages.Path(Names[i % Names.Length]))
            .Select((p, i) => new ImageFile(p, $"{i:D2}/{Path.GetFileName(p)}")).ToList();
        var tiny = new ImagePreprocessing { ResizeSize = 40, CropSize = 32 };
        string weights = FreshWeights(folder);
        using var embedder = ImageEmbedder.Create(ModelZoo.Create("resnet18", new ModelOptions { Weights = weights }), tiny);
        var pipeline = new ImagePipelineOptions { BatchSize = 3, Workers = 2 };

        string clean = Path.Combine(folder, "clean.npy");
        var full = embedder.Run(files, clean, new EmbedOptions { Pipeline = pipeline });
        Assert.Equal((12, 0), (full.Embedded, full.Resumed));
        Assert.Equal([files[4], files[11]], full.Unreadable.Select(f => f.File));

        string output = Path.Combine(folder, "resumed.npy");
        using var stop = new CancellationTokenSource();
        var batches = 0;
        var interrupted = new EmbedOptions { Pipeline = pipeline, Cancellation = stop.Token, Progress = new Stopper(() => { if (++batches == 2) stop.Cancel(); }) };
        Assert.ThrowsAny<OperationCanceledException>(() => embedder.Run(files, output, interrupted));
        Assert.False(File.Exists(output));
        Assert.Equal(2, Directory.GetFiles(output + ".parts", "part-*.safetensors").Length);

        var resumed = embedder.Run(files, output, new EmbedOptions { Pipeline = pipeline });
        Assert.Equal(5, resumed.Resumed);   // batches 0-2 and 3-5, less the unreadable file 4
        Assert.Equal(7, resumed.Embedded);
        Assert.Equal([files[4], files[11]], resumed.Unreadable.Select(f => f.File));
        Assert.Equal(File.ReadAllLines(EmbeddingFile.PathsFile(clean)), File.ReadAllLines(EmbeddingFile.PathsFile(output)));
        Assert.Equal(12, File.ReadAllLines(EmbeddingFile.PathsFile(output)).Length);
        var a = File.ReadAllBytes(clean);
        var b = File.ReadAllBytes(output);
        Assert.Equal(a.Length, b.Length);
        var x = MemoryMarshalFloats(a);
        var y = MemoryMarshalFloats(b);
        Assert.True(x.Zip(y, (p, q) => Math.Abs(p - q)).Max() <= 1e-5, "resumed vectors differ from a clean run's");
        Assert.False(Directory.Exists(output + ".parts"));
    }

    [Fact]
    public void RunWithFreshWeightsIsNeverResumedByAnother()
    {
        string output = Path.Combine(TempFolder.Create("resume-fresh"), "out.npy");
        var files = Enumerable.Range(0, 3).Select(i => new ImageFile(ReferenceImages.Path("rgb.png"), $"copy{i}.png")).ToList();
        using var stop = new CancellationTokenSource();
        var tiny = new ImagePreprocessing { ResizeSize = 40, CropSize = 32 };
        using (var first = ImageEmbedder.Create(ModelZoo.Create("resnet18"), tiny))
            Assert.ThrowsAny<OperationCanceledException>(() => first.Run(files, output,
                new EmbedOptions { Pipeline = new() { BatchSize = 1 }, Cancellation = stop.Token, Progress = new Stopper(stop.Cancel) }));
        using var second = ImageEmbedder.Create(ModelZoo.Create("resnet18"), tiny);
        var e = Assert.Throws<InvalidOperationException>(() => second.Run(files, output));
        Assert.Contains("other settings", e.Message);
    }

    [Fact]
    public void RefusesToResumeWithOtherSettings()
    {
        string folder = TempFolder.Create("resume-settings");
        string output = Path.Combine(folder, "out.csv");
        var files = Enumerable.Range(0, 4).Select(i => new ImageFile(ReferenceImages.Path("rgb.png"), $"copy{i}.png")).ToList();
        using var stop = new CancellationTokenSource();
        using (var first = ImageEmbedder.Create(ModelZoo.Create("resnet18"), new ImagePreprocessing { ResizeSize = 40, CropSize = 32 }))
            Assert.ThrowsAny<OperationCanceledException>(() => first.Run(files, output,
                new EmbedOptions { Pipeline = new() { BatchSize = 1 }, Cancellation = stop.Token, Progress = new Stopper(stop.Cancel) }));
        using var second = ImageEmbedder.Create(ModelZoo.Create("resnet18"), new ImagePreprocessing { ResizeSize = 48, CropSize = 32 });
        var e = Assert.Throws<InvalidOperationException>(() => second.Run(files, output));
        Assert.Contains("out.csv.parts holds vectors of an interrupted run with other settings", e.Message);
    }

    /// <summary>A fresh ResNet-18's weights in a file, so several models can share them (the global seed is shared by tests running in parallel).</summary>
    static string FreshWeights(string folder)
    {
        string weights = Path.Combine(folder, "weights.safetensors");
        using var source = ModelZoo.Create("resnet18");
        var state = new PyDict { Ordered = true };
        foreach (var (key, value) in source.OrderedStateDict()) state[key] = value;
        Checkpoint.Save(weights, state);
        return weights;
    }

    static float[] MemoryMarshalFloats(byte[] npy)
    {
        int headerLength = npy[8] | npy[9] << 8;
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(npy.AsSpan(10 + headerLength)).ToArray();
    }

    sealed class Stopper(Action onBatch) : IProgress<EmbedProgress>
    {
        public void Report(EmbedProgress value) => onBatch();
    }
}
