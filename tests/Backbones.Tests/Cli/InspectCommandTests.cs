using System.Buffers.Binary;
using System.Text.Json;
using Backbones.Tests.Support;

namespace Backbones.Tests.Cli;

/// <summary><c>backbones inspect</c>: PyTorch's keys, dtypes, shapes, strides and values in text and JSON; bad files exit 2 with one line.</summary>
public sealed class InspectCommandTests
{
    [Fact]
    public void JsonListsEveryTensorAsPyTorchRecordedIt()
    {
        PyTorch.Require();
        var (code, output, error) = CliRunner.Run("inspect", ReferenceFiles.Path("dtypes_zip.pth"), "--json", "--stats");
        Assert.True(code == 0, error);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.Equal("pth-zip", root.GetProperty("format").GetString());
        var manifest = ReferenceFiles.Manifest("dtypes_zip.pth").GetProperty("tensors");
        var tensors = root.GetProperty("tensors").EnumerateArray().ToList();
        Assert.Equal(manifest.EnumerateObject().Select(p => p.Name), tensors.Select(t => t.GetProperty("key").GetString()));
        foreach (var t in tensors)
        {
            var e = manifest.GetProperty(t.GetProperty("key").GetString()!);
            Assert.Equal(e.GetProperty("dtype").GetString(), t.GetProperty("dtype").GetString());
            var shape = e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            Assert.Equal(shape, t.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
            Assert.Equal(shape.Aggregate(1L, (a, b) => a * b), t.GetProperty("numel").GetInt64());
            var stride = e.GetProperty("stride").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            bool contiguous = stride.SequenceEqual(ContiguousStrides(shape));
            Assert.Equal(!contiguous, t.TryGetProperty("strides", out var strides));
            if (!contiguous) Assert.Equal(stride, strides.EnumerateArray().Select(d => d.GetInt64()));
        }
        // Statistics against values decoded here from PyTorch's own bytes.
        var f32 = tensors.Single(t => t.GetProperty("key").GetString() == "float32");
        var values = Floats(File.ReadAllBytes(Path.Combine(ReferenceFiles.Folder, manifest.GetProperty("float32").GetProperty("bytes").GetString()!)));
        Assert.Equal(values.Sum(), f32.GetProperty("sum").GetDouble(), 1e-12);
        Assert.Equal(values.Min(), f32.GetProperty("min").GetDouble());
        Assert.Equal(values.Max(), f32.GetProperty("max").GetDouble());
        Assert.Equal(values.Average(), f32.GetProperty("mean").GetDouble(), 1e-12);
        Assert.Equal(tensors.Count, root.GetProperty("totals").GetProperty("tensors").GetInt32());
    }

    [Fact]
    public void JsonJoinsNestedKeysAndListsNonTensorValues()
    {
        PyTorch.Require();
        var (code, output, _) = CliRunner.Run("inspect", ReferenceFiles.Path("wrapped.pth"), "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output);
        var keys = doc.RootElement.GetProperty("tensors").EnumerateArray().Select(t => t.GetProperty("key").GetString()).ToList();
        Assert.Contains("state_dict.0.weight", keys);
        Assert.Contains("optimizer.state.0.momentum_buffer", keys);
        var metadata = doc.RootElement.GetProperty("metadata");
        foreach (var v in ReferenceFiles.Manifest("wrapped.pth").GetProperty("values").EnumerateObject())
            Assert.Equal(v.Value.GetRawText(), metadata.GetProperty(v.Name).GetRawText());
    }

    [Fact]
    public void TextShowsFormatKeysAndTotals()
    {
        PyTorch.Require();
        var (code, output, _) = CliRunner.Run("inspect", ReferenceFiles.Path("tar_format.pth"));
        Assert.Equal(0, code);
        var lines = output.Split('\n');
        Assert.Equal($"{ReferenceFiles.Path("tar_format.pth")}: pth-legacy", lines[0]);
        Assert.Matches(@"^weight_t\s+float32\s+\[3, 2\]\s+\[1, 3\]\s+6$", lines.Single(l => l.StartsWith("weight_t")));
        Assert.Contains("  epoch = 7", lines);
        Assert.Contains("total: 4 tensors, 18 elements, 80 bytes", lines);
    }

    [Fact]
    public void RefusedFileExitsTwoWithOneLineNamingFileAndEntry()
    {
        PyTorch.Require();
        string path = ReferenceFiles.Path("hostile_os_system.pth");
        var (code, output, error) = CliRunner.Run("inspect", path);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Equal($"error: {path}: hostile_os_system/data.pkl (pickle offset 13): refused to load global 'posix.system': it is not a tensor, storage or plain container type, and loading it could run code from the file{Environment.NewLine}", error);
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("missing")]
    public void DamagedOrMissingFileExitsTwoWithoutAStackTrace(string kind)
    {
        string folder = TempFolder.Create("cli");
        string path = Path.Combine(folder, "model.pth");
        if (kind == "truncated")
            File.WriteAllBytes(path, File.ReadAllBytes(Serialization.CorruptFileTests.OwnZipCheckpoint())[..200]);
        var (code, _, error) = CliRunner.Run("inspect", path);
        Assert.Equal(2, code);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.StartsWith($"error: {path}: ", error);
        Assert.DoesNotContain("   at ", error);
    }

    static long[] ContiguousStrides(long[] shape)
    {
        var strides = new long[shape.Length];
        long s = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { strides[i] = s; s *= Math.Max(shape[i], 1); }
        return strides;
    }

    static double[] Floats(byte[] raw) =>
        Enumerable.Range(0, raw.Length / 4).Select(i => (double)BinaryPrimitives.ReadSingleLittleEndian(raw.AsSpan(i * 4))).ToArray();
}
