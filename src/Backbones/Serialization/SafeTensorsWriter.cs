using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace Backbones.Serialization;

/// <summary>
/// Writes a safetensors file: header length, JSON header (<c>__metadata__</c> first, then tensors in data order,
/// padded with spaces to a multiple of 8 bytes), then each tensor's bytes, C-contiguous and little-endian.
/// </summary>
internal static class SafeTensorsWriter
{
    public static void Write(Stream stream, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var list = tensors.ToList();
        var contiguous = new List<Tensor>(list.Count);
        // Copies made here (to the CPU, to contiguous) die with the scope; the caller's tensors are not in it.
        using var scope = NewDisposeScope();
        foreach (var (_, t) in list) contiguous.Add(t.cpu().contiguous());
        var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) json.WriteString(k, v);
                json.WriteEndObject();
            }
            long offset = 0;
            for (int i = 0; i < list.Count; i++)
            {
                var t = contiguous[i];
                long bytes = t.NumberOfElements * t.ElementSize;
                json.WriteStartObject(list[i].Key);
                json.WriteString("dtype", TorchDType.Of(t.dtype).SafeTensorsName);
                json.WriteStartArray("shape");
                foreach (var d in t.shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        while (header.Length % 8 != 0) header.WriteByte((byte)' ');
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        stream.Write(header.GetBuffer().AsSpan(0, (int)header.Length));
        foreach (var t in contiguous)
            if (t.NumberOfElements > 0) TensorMemory.ForEachChunk(t, (span, _) => stream.Write(span));
    }
}
