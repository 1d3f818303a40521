using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using Backbones.Serialization.Pickle;
using static TorchSharp.torch;

namespace Backbones.Serialization;

/// <summary>
/// Reads a safetensors file: an 8-byte little-endian header length, a JSON header of dtype, shape and
/// data offsets per tensor (plus <c>__metadata__</c>), then the tensors' bytes, contiguous, without gaps or overlaps.
/// </summary>
internal static class SafeTensorsReader
{
    /// <summary>The format's own cap on the header.</summary>
    const long MaxHeaderBytes = 100L << 20;

    public static bool LooksLikeSafeTensors(ReadOnlySpan<byte> head, long fileLength)
    {
        if (head.Length < 9) return false;
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(head);
        return n > 0 && n <= (ulong)Math.Min(MaxHeaderBytes, fileLength - 8) && head[8] == (byte)'{';
    }

    public static unsafe (PyDict Tensors, Dictionary<string, string> Metadata) Read(SafeFileHandle handle, string file)
    {
        long length = RandomAccess.GetLength(handle);
        Span<byte> prefix = stackalloc byte[8];
        if (length < 8 || RandomAccess.Read(handle, prefix, 0) != 8) throw Fail(file, null, "truncated: shorter than the 8-byte header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderBytes) throw Fail(file, "header", $"declares {headerLength} bytes, over the format's 100 MiB limit");
        if ((long)headerLength > length - 8) throw Fail(file, "header", $"declares {headerLength} bytes but the file has only {length - 8} after the length");
        var headerBytes = new byte[headerLength];
        RandomAccess.Read(handle, headerBytes, 8);
        long dataStart = 8 + (long)headerLength;
        long dataLength = length - dataStart;

        var entries = ParseHeader(headerBytes, file, out var metadata);
        long expected = 0;
        foreach (var e in entries.OrderBy(e => e.Begin))
        {
            if (e.Begin != expected) throw Fail(file, e.Name, e.Begin < expected ? "data overlaps the previous tensor" : $"gap in the data before byte {e.Begin}");
            expected = e.End;
        }
        if (expected != dataLength) throw Fail(file, null, $"tensors cover {expected} bytes of data but the file holds {dataLength} (truncated or padded)");

        var tensors = new PyDict { Ordered = true };
        foreach (var e in entries)
        {
            var t = empty(e.Shape, e.DType.ScalarType);
            long at = dataStart + e.Begin;
            TensorMemory.ForEachChunk(t, (span, done) =>
            {
                int read = 0;
                while (read < span.Length)
                {
                    int n = RandomAccess.Read(handle, span[read..], at + done + read);
                    if (n <= 0) throw Fail(file, e.Name, "truncated data");
                    read += n;
                }
            });
            tensors.Add(e.Name, t);
        }
        return (tensors, metadata);
    }

    sealed record Entry(string Name, TorchDType DType, long[] Shape, long Begin, long End);

    static List<Entry> ParseHeader(byte[] header, string file, out Dictionary<string, string> metadata)
    {
        metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw Fail(file, "header", "is not valid JSON: " + e.Message, e);
        }
        using var _ = doc;
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Fail(file, "header", "is not a JSON object");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var entries = new List<Entry>();
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (!seen.Add(p.Name)) throw Fail(file, p.Name, "appears twice in the header");
            if (p.Name == "__metadata__")
            {
                if (p.Value.ValueKind != JsonValueKind.Object) throw Fail(file, p.Name, "is not an object");
                foreach (var m in p.Value.EnumerateObject())
                    metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : throw Fail(file, "__metadata__." + m.Name, "is not a string");
                continue;
            }
            entries.Add(ParseEntry(p, file));
        }
        return entries;
    }

    static Entry ParseEntry(JsonProperty p, string file)
    {
        var v = p.Value;
        if (v.ValueKind != JsonValueKind.Object
            || !v.TryGetProperty("dtype", out var dtypeJson) || dtypeJson.ValueKind != JsonValueKind.String
            || !v.TryGetProperty("shape", out var shapeJson) || shapeJson.ValueKind != JsonValueKind.Array
            || !v.TryGetProperty("data_offsets", out var offsetsJson) || offsetsJson.ValueKind != JsonValueKind.Array || offsetsJson.GetArrayLength() != 2)
            throw Fail(file, p.Name, "needs dtype, shape and data_offsets [begin, end]");
        var dtype = TorchDType.FromSafeTensorsName(dtypeJson.GetString()!) ?? throw Fail(file, p.Name, $"unsupported dtype '{dtypeJson.GetString()}'");
        var shape = shapeJson.EnumerateArray().Select(d => d.TryGetInt64(out var n) && n >= 0 ? n : throw Fail(file, p.Name, "shape holds a non-integer or negative size")).ToArray();
        var offsets = offsetsJson.EnumerateArray().Select(d => d.TryGetInt64(out var n) && n >= 0 ? n : throw Fail(file, p.Name, "data offset is not a non-negative integer")).ToArray();
        long bytes;
        try
        {
            bytes = checked(shape.Aggregate(1L, (a, b) => checked(a * b)) * dtype.ElementSize);
        }
        catch (OverflowException)
        {
            throw Fail(file, p.Name, "shape overflows");
        }
        if (offsets[1] < offsets[0] || offsets[1] - offsets[0] != bytes)
            throw Fail(file, p.Name, $"data_offsets [{offsets[0]}, {offsets[1]}] do not hold the {bytes} bytes its dtype and shape need");
        return new Entry(p.Name, dtype, shape, offsets[0], offsets[1]);
    }

    static CheckpointFormatException Fail(string file, string? entry, string problem, Exception? inner = null) => new(file, entry, problem, inner);
}
