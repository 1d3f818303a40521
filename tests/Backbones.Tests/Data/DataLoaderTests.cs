using System.Buffers.Binary;
using Backbones.Data;
using Backbones.Tests.Support;
using Backbones.Vision;
using TorchSharp;
using static TorchSharp.torch;
using static Backbones.Tests.Data.DataTensors;

namespace Backbones.Tests.Data;

/// <summary>
/// The loader's batches depend only on the seed and the epoch (not on threads or on earlier epochs), cover each sample
/// once, drop the last partial batch when asked, and go on past unreadable images, counting them.
/// </summary>
public class DataLoaderTests
{
    static readonly TrainTransform Augment = new(12) { Jitter = new ColorJitter(0.3, 0.3, 0.3, 0.05) };

    [Fact]
    public void SameSeedGivesBitIdenticalBatchesWhateverTheThreads()
    {
        var data = new MemoryDataset(23);
        var one = new DataLoader(data, Augment, new DataLoaderOptions { BatchSize = 5, Seed = 7, Workers = 1, Prefetch = 1 });
        var three = new DataLoader(data, Augment, new DataLoaderOptions { BatchSize = 5, Seed = 7, Workers = 3, Prefetch = 3 });
        var a = Collect(one, 0);
        var b = Collect(three, 0);
        Assert.Equal(a.Indices, b.Indices);
        Assert.True(Identical(a.Images, b.Images), "images differ between 1 and 3 workers");
        Assert.True(Identical(a.Labels, b.Labels));
        // Each row is what the transform makes of that sample with its own (seed, epoch, index) stream.
        for (int row = 0; row < a.Indices.Count; row++)
        {
            int index = a.Indices[row];
            using var image = data.Read(index);
            using var expected = Augment.Apply(image, DeterministicRandom.For(7, 0, index));
            Assert.True(Identical(a.Images[row], expected), $"row {row} (sample {index}) is not its own augmentation");
            Assert.Equal(data.Label(index), a.Labels[row].item<long>());
        }
        Assert.Equal(ScalarType.Float32, a.Images.dtype);
        Assert.Equal(ScalarType.Int64, a.Labels.dtype);
        Assert.Equal([23L, 3, 12, 12], a.Images.shape);
    }

    [Fact]
    public void EpochsDifferAndAResumedLoaderSeesTheSameEpoch()
    {
        var data = new MemoryDataset(17);
        var options = new DataLoaderOptions { BatchSize = 4, Seed = 3, Workers = 2 };
        var first = new DataLoader(data, Augment, options);
        var epoch1 = Collect(first, 1);
        var epoch2 = Collect(first, 2);
        Assert.NotEqual(epoch1.Indices, epoch2.Indices);
        Assert.Equal(Enumerable.Range(0, 17), epoch1.Indices.Order());
        // The same sample is augmented differently in another epoch.
        int row1 = epoch1.Indices.IndexOf(0), row2 = epoch2.Indices.IndexOf(0);
        Assert.False(Identical(epoch1.Images[row1], epoch2.Images[row2]));

        var resumed = Collect(new DataLoader(data, Augment, options), 2);
        Assert.Equal(epoch2.Indices, resumed.Indices);
        Assert.True(Identical(epoch2.Images, resumed.Images));
        Assert.NotEqual(epoch2.Indices, Collect(new DataLoader(data, Augment, options with { Seed = 4 }), 2).Indices);
    }

    [Fact]
    public void DropLastLeavesOutThePartialBatch()
    {
        var data = new MemoryDataset(23);
        var keep = new DataLoader(data, Augment, new DataLoaderOptions { BatchSize = 5, Seed = 1, Workers = 2 });
        var drop = new DataLoader(data, Augment, new DataLoaderOptions { BatchSize = 5, Seed = 1, Workers = 2, DropLast = true });
        Assert.Equal([5, 5, 5, 5, 3], Sizes(keep));
        Assert.Equal([5, 5, 5, 5], Sizes(drop));
        Assert.Equal(keep.Order(0).Take(20), Collect(drop, 0).Indices);

        var ordered = new DataLoader(data, Augment, new DataLoaderOptions { BatchSize = 10, Shuffle = false, Workers = 2 });
        Assert.Equal(Enumerable.Range(0, 23), Collect(ordered, 5).Indices);
    }

    [Fact]
    public void UnreadableImagesAreCountedAndTheEpochGoesOn()
    {
        string root = TempFolder.Create("loader");
        var random = new DeterministicRandom(2);
        foreach (var (cls, n) in new[] { ("ant", 5), ("bee", 4) })
            for (int i = 0; i < n; i++) WriteBmp(Path.Combine(root, cls, $"{i}.bmp"), 10 + i, 14, random);
        File.WriteAllText(Path.Combine(root, "ant", "broken.jpg"), "not a jpeg");
        File.WriteAllBytes(Path.Combine(root, "bee", "empty.png"), []);
        File.WriteAllBytes(Path.Combine(root, "bee", "netpbm.ppm"), "P6 1 1 255 abc"u8.ToArray());
        var data = new ImageFolderDataset(root);
        Assert.Equal(12, data.Count);

        var loader = new DataLoader(data, new EvalTransform(new ImagePreprocessing { ResizeSize = 12, CropSize = 10 }),
            new DataLoaderOptions { BatchSize = 4, Seed = 5, Workers = 2 });
        var all = Collect(loader, 0);
        Assert.Equal(9, all.Indices.Count);
        Assert.All(all.Indices, i => Assert.EndsWith(".bmp", data.Samples[i].Path));
        Assert.Equal(all.Indices.Select(i => (long)data.Samples[i].Label), all.Labels.data<long>().ToArray());
        Assert.Equal(3, loader.Failures.Count);
        Assert.Equal(["broken.jpg", "empty.png", "netpbm.ppm"], loader.Failures.Select(f => Path.GetFileName(f.Sample)).Order());
        Assert.Contains(loader.Failures, f => f.Problem == "empty file");
        Collect(loader, 1);
        Assert.Equal(6, loader.Failures.Count);
        Assert.Equal(3, loader.Failures.Count(f => f.Epoch == 1));
    }

    [Fact]
    public void FeedsIdxImagesAsOneOrThreeChannels()
    {
        string folder = TempFolder.Create("loader-idx");
        var random = new DeterministicRandom(8);
        var pixels = Enumerable.Range(0, 6 * 9 * 8).Select(_ => (byte)random.NextInt(256)).ToArray();
        byte[] labelBytes = [3, 0, 1, 3, 2, 1];
        File.WriteAllBytes(Path.Combine(folder, "images"), [.. Header(0x08, 6, 9, 8), .. pixels]);
        File.WriteAllBytes(Path.Combine(folder, "labels"), [.. Header(0x08, 6), .. labelBytes]);
        using var data = new IdxDataset(Path.Combine(folder, "images"), Path.Combine(folder, "labels"));
        Assert.Equal(4, data.Classes.Count);

        foreach (int channels in new[] { 1, 3 })
        {
            var loader = new DataLoader(data, new TrainTransform(16) { Channels = channels }, new DataLoaderOptions { BatchSize = 4, Seed = 2, Workers = 2 });
            var all = Collect(loader, 0);
            Assert.Equal([6L, channels, 16, 16], all.Images.shape);
            Assert.Equal(all.Indices.Select(i => (long)labelBytes[i]), all.Labels.data<long>().ToArray());
        }
    }

    [Fact]
    public void LeavingAnEpochEarlyStopsTheWorkers()
    {
        var data = new MemoryDataset(200);
        var loader = new DataLoader(data, Augment, new DataLoaderOptions { BatchSize = 4, Workers = 2, Prefetch = 1 });
        var numbers = new List<int>();
        foreach (var batch in loader.Epoch(0, TestContext.Current.CancellationToken))
        {
            using (batch) numbers.Add(batch.Number);
            if (numbers.Count == 2) break;
        }
        Assert.Equal([0, 1], numbers);
        Assert.Equal(50, loader.BatchCount);
    }

    /// <summary>All batches of an epoch, concatenated.</summary>
    static (List<int> Indices, Tensor Images, Tensor Labels) Collect(DataLoader loader, int epoch)
    {
        var indices = new List<int>();
        var images = new List<Tensor>();
        var labels = new List<Tensor>();
        foreach (var batch in loader.Epoch(epoch, TestContext.Current.CancellationToken))
        {
            Assert.Equal(epoch, batch.Epoch);
            indices.AddRange(batch.Indices);
            images.Add(batch.Images);
            labels.Add(batch.Labels);
        }
        var result = (indices, cat(images), cat(labels));
        foreach (var t in images.Concat(labels)) t.Dispose();
        return result;
    }

    static List<int> Sizes(DataLoader loader) => loader.Epoch(0, TestContext.Current.CancellationToken).Select(b =>
    {
        using (b) return b.Count;
    }).ToList();

    static byte[] Header(byte type, params int[] dims)
    {
        var header = new byte[4 + 4 * dims.Length];
        header[2] = type;
        header[3] = (byte)dims.Length;
        for (int d = 0; d < dims.Length; d++) BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * d), dims[d]);
        return header;
    }

    /// <summary>A 24-bit bottom-up BMP of random pixels (rows padded to 4 bytes).</summary>
    static void WriteBmp(string path, int width, int height, DeterministicRandom random)
    {
        int stride = (width * 3 + 3) & ~3, size = 54 + stride * height;
        var bmp = new byte[size];
        "BM"u8.CopyTo(bmp);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(2), size);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(22), height);
        BinaryPrimitives.WriteInt16LittleEndian(bmp.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(bmp.AsSpan(28), 24);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width * 3; x++) bmp[54 + y * stride + x] = (byte)random.NextInt(256);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bmp);
    }

    /// <summary>Random uint8 RGB images of varied sizes, labels i % 3, held in memory.</summary>
    sealed class MemoryDataset(int count) : ILabeledDataset
    {
        readonly Tensor[] _images = Enumerable.Range(0, count)
            .Select(i => NoiseBytes(3, 20 + i % 7, 30 - i % 5, (ulong)i + 100)).ToArray();

        public int Count => count;

        public IReadOnlyList<string> Classes { get; } = ["a", "b", "c"];

        public int Label(int index) => index % 3;

        public Tensor Read(int index) => _images[index].clone();

        public string Describe(int index) => $"memory #{index}";
    }
}
