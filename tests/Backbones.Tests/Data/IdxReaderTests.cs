using System.IO.Compression;
using System.Text.Json;
using Backbones.Data;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using static TorchSharp.torch;
using static Backbones.Tests.Data.DataTensors;

namespace Backbones.Tests.Data;

/// <summary>
/// IDX files written by numpy (tests/reference/idx_files.py), plain and gzip, of every type; damaged ones refused with
/// the file and the problem named; and Debian's Fashion-MNIST against numpy's reading of it.
/// </summary>
public class IdxReaderTests
{
    static readonly (string Name, string Dtype, int[] Shape, bool Gzip)[] Files =
    [
        ("images.idx3.gz", "uint8", [3, 5, 4], true),
        ("labels.idx1", "uint8", [7], false),
        ("int8.idx", "int8", [2, 3, 4], false),
        ("int16.idx.gz", "int16", [4, 5], true),
        ("int32.idx", "int32", [6], false),
        ("float32.idx.gz", "float32", [2, 2, 3], true),
        ("float64.idx", "float64", [5], false),
        ("empty.idx", "uint8", [0, 28, 28], false),
        ("rank4.idx", "uint8", [2, 1, 3, 3], false),
        ("pair-images.idx3.gz", "uint8", [4, 6, 5], true),
        ("pair-labels.idx1", "uint8", [4], false),
    ];

    static readonly Lazy<string> Written = new(() =>
    {
        string folder = TempFolder.Create("idx");
        string spec = Path.Combine(folder, "spec.json");
        File.WriteAllText(spec, JsonSerializer.Serialize(Files.Select(f => new { name = f.Name, dtype = f.Dtype, shape = f.Shape, gzip = f.Gzip })));
        var (code, stdout, stderr) = PyTorch.RunScript("idx_files.py", spec, folder);
        if (code != 0) throw new InvalidOperationException($"idx_files.py failed ({code}):\n{stdout}\n{stderr}");
        return folder;
    });

    [Fact]
    public void ReadsEveryTypeNumpyWritesPlainOrGzip()
    {
        PyTorch.Require();
        string folder = Written.Value;
        using var expected = Checkpoint.Load(Path.Combine(folder, "expected.pth"));
        var root = (PyDict)expected.Root!;
        foreach (var (name, dtype, shape, _) in Files)
        {
            using var ours = IdxReader.Read(Path.Combine(folder, name));
            var theirs = (Tensor)root[name]!;
            Assert.True(theirs.dtype == ours.dtype, $"{name}: {ours.dtype}, numpy {dtype}");
            Assert.Equal(shape.Select(d => (long)d), ours.shape);
            Assert.True(Identical(ours, theirs), $"{name}: values differ from numpy's");
        }
    }

    [Fact]
    public void TruncatedOrOversizedFilesAreRefusedSayingByHowMuch()
    {
        PyTorch.Require();
        string folder = TempFolder.Create("idx-bad");
        byte[] good = Gunzip(File.ReadAllBytes(Path.Combine(Written.Value, "int16.idx.gz")));
        Assert.Equal(4 + 2 * 4 + 4 * 5 * 2, good.Length);

        string truncated = Save(folder, "truncated.idx", good[..^3]);
        var e = Assert.Throws<DatasetException>(() => IdxReader.Read(truncated));
        Assert.Equal($"{truncated}: truncated: [4, 5] int16 needs 40 bytes of data, the file holds 37", e.Message);

        string oversized = Save(folder, "oversized.idx", [.. good, 1, 2]);
        e = Assert.Throws<DatasetException>(() => IdxReader.Read(oversized));
        Assert.Equal($"{oversized}: 2 bytes more than [4, 5] int16 needs (40 bytes of data, the file holds 42)", e.Message);

        string truncatedGz = Save(folder, "truncated.idx.gz", Gzip(good[..^1]));
        Assert.Contains("truncated: [4, 5] int16 needs 40 bytes of data, the file holds 39", Assert.Throws<DatasetException>(() => IdxReader.Read(truncatedGz)).Message);
        string oversizedGz = Save(folder, "oversized.idx.gz", Gzip([.. good, 0]));
        Assert.Contains("1 bytes more than", Assert.Throws<DatasetException>(() => IdxReader.Read(oversizedGz)).Message);

        string cutGz = Save(folder, "cut.idx.gz", Gzip(good)[..^12]);
        Assert.StartsWith($"{cutGz}: ", Assert.Throws<DatasetException>(() => IdxReader.Read(cutGz)).Message);
    }

    [Fact]
    public void RefusesWhatIsNotIdx()
    {
        string folder = TempFolder.Create("idx-bad");
        string text = Save(folder, "text.idx", "hello world"u8.ToArray());
        Assert.Contains("not an IDX file: its data starts with 68656C6C", Assert.Throws<DatasetException>(() => IdxReader.Read(text)).Message);
        string type = Save(folder, "type.idx", [0, 0, 0x0A, 1, 0, 0, 0, 1, 5]);
        Assert.Contains("unknown IDX type byte 0x0A", Assert.Throws<DatasetException>(() => IdxReader.Read(type)).Message);
        string header = Save(folder, "header.idx", [0, 0, 8, 3, 0, 0, 0, 1]);
        Assert.Contains("truncated header: 3 dimensions need 12 bytes", Assert.Throws<DatasetException>(() => IdxReader.Read(header)).Message);
        // A gzip file whose header claims 60000 × 60000 × 1000 bytes: refused before anything is allocated.
        string huge = Save(folder, "huge.idx.gz", Gzip([0, 0, 8, 3, 0, 0, 0xEA, 0x60, 0, 0, 0xEA, 0x60, 0, 0, 0x03, 0xE8, 1, 2, 3]));
        Assert.Contains("header claims [60000, 60000, 1000] uint8, over", Assert.Throws<DatasetException>(() => IdxReader.Read(huge)).Message);
        string negative = Save(folder, "negative.idx", [0, 0, 8, 1, 0xFF, 0xFF, 0xFF, 0xFF]);
        Assert.Contains("dimension 0 is negative (-1)", Assert.Throws<DatasetException>(() => IdxReader.Read(negative)).Message);
        Assert.Contains("too short", Assert.Throws<DatasetException>(() => IdxReader.Read(Save(folder, "short.idx", [0, 0]))).Message);
    }

    [Fact]
    public void DatasetPairsImagesWithLabels()
    {
        PyTorch.Require();
        string folder = Written.Value;
        using var expected = Checkpoint.Load(Path.Combine(folder, "expected.pth"));
        var images = (Tensor)((PyDict)expected.Root!)["pair-images.idx3.gz"]!;
        var labels = ((Tensor)((PyDict)expected.Root!)["pair-labels.idx1"]!).data<byte>().ToArray();
        string imagesFile = Path.Combine(folder, "pair-images.idx3.gz"), labelsFile = Path.Combine(folder, "pair-labels.idx1");

        using var data = new IdxDataset(imagesFile, labelsFile);
        Assert.Equal(4, data.Count);
        Assert.Equal(labels.Max() + 1, data.Classes.Count);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(labels[i], data.Label(i));
            using var image = data.Read(i);
            Assert.Equal([1L, 6, 5], image.shape);
            Assert.True(Identical(image[0], images[i]));
        }
        Assert.Equal($"{imagesFile} #3", data.Describe(3));

        var e = Assert.Throws<DatasetException>(() => new IdxDataset(imagesFile, Path.Combine(folder, "labels.idx1")));
        Assert.Contains("holds 7 labels for the 4 images of", e.Message);
        e = Assert.Throws<DatasetException>(() => new IdxDataset(imagesFile, labelsFile, ["a", "b"]));
        Assert.Equal(labelsFile, e.Path);
        Assert.Contains("is not a class index (0..1)", e.Message);
        e = Assert.Throws<DatasetException>(() => new IdxDataset(Path.Combine(folder, "labels.idx1"), labelsFile));
        Assert.Contains("images are N×H×W or N×C×H×W, not [7]", e.Message);
    }

    [Fact]
    public void ReadsDebiansFashionMnistAsNumpyDoes()
    {
        PyTorch.Require();
        if (!File.Exists(Path.Combine(IdxDataset.DebianFashionMnistFolder, "train-images-idx3-ubyte.gz")))
            Assert.Skip($"Debian's dataset-fashion-mnist is not installed ({IdxDataset.DebianFashionMnistFolder}); apt-get install dataset-fashion-mnist");
        var (code, stdout, stderr) = PyTorch.RunScript("fashion_mnist_facts.py", IdxDataset.DebianFashionMnistFolder);
        Assert.True(code == 0, stdout + stderr);
        using var facts = JsonDocument.Parse(stdout);
        foreach (var (part, train, count) in new[] { ("train", true, 60000), ("t10k", false, 10000) })
        {
            var f = facts.RootElement.GetProperty(part);
            using var data = IdxDataset.FashionMnist(train);
            Assert.Equal(count, data.Count);
            Assert.Equal(f.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()), data.Images.shape);
            Assert.Equal(ScalarType.Byte, data.Images.dtype);
            Assert.Equal(f.GetProperty("total").GetInt64(), data.Images.sum(ScalarType.Int64).item<long>());
            var picked = f.GetProperty("picked").EnumerateArray().Select(e => e.GetInt32()).ToList();
            var sums = f.GetProperty("sums").EnumerateArray().Select(e => e.GetInt64()).ToList();
            for (int i = 0; i < picked.Count; i++)
            {
                using var image = data.Read(picked[i]);
                Assert.Equal(sums[i], image.sum(ScalarType.Int64).item<long>());
            }
            var perClass = Enumerable.Range(0, 10).Select(c => Enumerable.Range(0, data.Count).Count(i => data.Label(i) == c));
            Assert.Equal(f.GetProperty("labels").EnumerateArray().Select(e => e.GetInt32()), perClass);
            Assert.Equal("Ankle boot", data.Classes[9]);
        }
    }

    static string Save(string folder, string name, byte[] bytes)
    {
        string path = Path.Combine(folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest)) gzip.Write(bytes);
        return output.ToArray();
    }

    static byte[] Gunzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress)) gzip.CopyTo(output);
        return output.ToArray();
    }
}
