using System.Buffers.Binary;
using System.Text;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using static TorchSharp.torch;

namespace Backbones.Tests.Serialization;

/// <summary>safetensors written byte for byte to the format's rules, read back exactly, malformed headers refused.</summary>
public sealed class SafeTensorsTests
{
    [Fact]
    public void WritesTheFormatByteForByte()
    {
        string path = Path.Combine(TempFolder.Create("st"), "w.safetensors");
        using (var scope = NewDisposeScope())
        {
            var dict = new PyDict { Ordered = true };
            dict["a"] = tensor(new[] { 1.5f, -2f, 0.25f, 8f }).reshape(2, 2);
            dict["b"] = tensor(new long[] { -1, 1L << 40 });
            dict["c"] = tensor(new[] { true, false, true });
            Checkpoint.Save(path, dict, metadata: new Dictionary<string, string> { ["format"] = "pt" });
        }
        // Expected bytes built from the specification: u64 LE header size, JSON header padded with spaces to 8 bytes,
        // then the raw little-endian data in header order.
        string json = """{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"I64","shape":[2],"data_offsets":[16,32]},"c":{"dtype":"BOOL","shape":[3],"data_offsets":[32,35]}}""";
        var header = Encoding.UTF8.GetBytes(json.PadRight((json.Length + 7) / 8 * 8));
        var expected = new List<byte>();
        expected.AddRange(BitConverter.GetBytes((ulong)header.Length));
        expected.AddRange(header);
        foreach (var f in new[] { 1.5f, -2f, 0.25f, 8f }) expected.AddRange(BitConverter.GetBytes(f));
        foreach (var l in new[] { -1L, 1L << 40 }) expected.AddRange(BitConverter.GetBytes(l));
        expected.AddRange(new byte[] { 1, 0, 1 });
        Assert.Equal(expected.ToArray(), File.ReadAllBytes(path));
    }

    [Fact]
    public void ReadsBackWhatItWroteWithMetadata()
    {
        string path = Path.Combine(TempFolder.Create("st"), "rt.safetensors");
        using (var scope = NewDisposeScope())
        {
            var dict = new PyDict { Ordered = true };
            dict["x"] = arange(12, ScalarType.Float32).reshape(3, 4).t(); // non-contiguous: written contiguous
            dict["h"] = tensor(new[] { 1f, 2f }).to(ScalarType.BFloat16);
            dict["z"] = zeros(0, 2, ScalarType.Int8);
            Checkpoint.Save(path, dict, metadata: new Dictionary<string, string> { ["source"] = "test" });
        }
        using var back = Checkpoint.Load(path);
        Assert.Equal(CheckpointFormat.SafeTensors, back.Format);
        Assert.Equal("test", back.Metadata["source"]);
        var leaves = back.Leaves().ToDictionary(l => l.Key, l => (Tensor)l.Value!);
        Assert.Equal(new long[] { 4, 3 }, leaves["x"].shape);
        Assert.Equal(new float[] { 0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11 }, leaves["x"].data<float>().ToArray());
        Assert.Equal(new byte[] { 0x80, 0x3f, 0x00, 0x40 }, Bytes.Of(leaves["h"])); // bf16 1.0 and 2.0
        Assert.Equal(new long[] { 0, 2 }, leaves["z"].shape);
    }

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "b", "overlaps")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "a", "gap in the data")]
    [InlineData("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, "a", "do not hold the 12 bytes")]
    [InlineData("""{"a":{"dtype":"Q8","shape":[1],"data_offsets":[0,1]}}""", 1, "a", "unsupported dtype 'Q8'")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "a", "appears twice")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 12, null, "tensors cover 4 bytes of data but the file holds 12")]
    [InlineData("""{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 4, "a", "negative size")]
    [InlineData("""{"__metadata__":{"n":1}}""", 0, "__metadata__.n", "is not a string")]
    [InlineData("""{"a":[1,2]""", 0, "header", "is not valid JSON")]
    public void RefusesMalformedHeaders(string header, int dataBytes, string? entry, string problem)
    {
        string path = Path.Combine(TempFolder.Create("st"), "bad.safetensors");
        var h = Encoding.UTF8.GetBytes(header);
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)h.Length), .. h, .. new byte[dataBytes]]);
        var e = Assert.ThrowsAny<CheckpointFormatException>(() => Checkpoint.Load(path));
        Assert.Equal(entry, e.Entry);
        Assert.Contains(problem, e.Problem);
    }

    [Fact]
    public void RefusesAHeaderLongerThanTheFile()
    {
        string path = Path.Combine(TempFolder.Create("st"), "long.safetensors");
        var bytes = new byte[64];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1000);
        bytes[8] = (byte)'{';
        File.WriteAllBytes(path, bytes);
        // Not recognisable as safetensors at all once the header cannot fit: named as an unknown format.
        var e = Assert.ThrowsAny<CheckpointFormatException>(() => Checkpoint.Load(path));
        Assert.Equal(path, e.File);
    }
}
