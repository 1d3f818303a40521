using System.Globalization;
using System.Security.Cryptography;
using Backbones.IO;
using Backbones.Onnx.Proto;
using Backbones.Serialization;
using Google.Protobuf;
using static TorchSharp.torch;

namespace Backbones.Onnx;

/// <summary>
/// An exported model before its weights are copied: the ONNX model with nodes, inputs, outputs and metadata, and the
/// initializers still to materialise. Hashes its structure (for the engine's cache) and writes the file, moving large
/// initializers to an external data file when asked or when protobuf's 2 GB limit requires it.
/// </summary>
internal sealed class OnnxModelDraft
{
    /// <summary>Page alignment of tensors in the external data file, so a runtime may map them.</summary>
    const long Alignment = 4096;

    /// <summary>Initializers of at least this size go external when the model must be split (onnx's own default).</summary>
    const long AutomaticThreshold = 1024;

    /// <summary>Largest model written as one protobuf message; protobuf refuses 2 GiB, and the graph needs some room.</summary>
    const long InlineLimit = (1L << 31) - (64L << 20);

    readonly ModelProto _skeleton;

    public OnnxModelDraft(ModelProto skeleton, IReadOnlyList<OnnxInitializer> initializers, OnnxGraphContext context)
    {
        _skeleton = skeleton;
        Initializers = initializers;
        Context = context;
    }

    public IReadOnlyList<OnnxInitializer> Initializers { get; }

    public OnnxGraphContext Context { get; }

    public ModelProto Skeleton => _skeleton;

    public long InitializerBytes => Initializers.Sum(i => i.ByteLength);

    /// <summary>SHA-256 of everything but the weights' values: graph, metadata, and each initializer's name, type and shape.</summary>
    public byte[] StructureHash()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(_skeleton.ToByteArray());
        foreach (var init in Initializers)
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes($"\n{init.Name}:{(init.IsInt64 ? "int64" : "float32")}[{string.Join(",", init.Shape)}]"));
        return sha.GetHashAndReset();
    }

    /// <summary>
    /// Writes the model to <paramref name="path"/> (and its external data to <c>path.data</c> when any), each atomically;
    /// returns the model file's size, and the data file if one was written. Weights stream from the tensors to the file
    /// (protobuf's encoding written by hand around them), so no copy of the model is held in memory.
    /// </summary>
    public (long Bytes, string? DataPath, long DataBytes) Write(string path, long? externalThreshold)
    {
        long threshold = Threshold(externalThreshold);
        string full = Path.GetFullPath(path);
        string dataPath = full + ".data";
        string location = Path.GetFileName(dataPath);

        // Where each external initializer goes in the data file, page-aligned, in graph order.
        var offsets = new long?[Initializers.Count];
        long dataBytes = 0;
        for (int i = 0; i < Initializers.Count; i++)
        {
            if (Initializers[i].ByteLength < threshold) continue;
            offsets[i] = Align(dataBytes);
            dataBytes = offsets[i]!.Value + Initializers[i].ByteLength;
        }
        var headers = Initializers.Select((init, i) => Header(init, offsets[i], location).ToByteArray()).ToList();
        var entryLengths = Initializers.Select((init, i) =>
            headers[i].Length + (offsets[i] is null ? 1 + VarintLength((ulong)init.ByteLength) + init.ByteLength : 0)).ToList();

        var graph = _skeleton.Graph.ToByteArray();
        long graphLength = graph.Length + entryLengths.Sum(l => 1 + VarintLength((ulong)l) + l);
        var rest = _skeleton.Clone();
        rest.Graph = null;
        var head = rest.ToByteArray();
        if (head.Length + 1 + VarintLength((ulong)graphLength) + graphLength > int.MaxValue)
            throw new OnnxExportException("the model passes protobuf's 2 GB limit; set a smaller external data threshold");

        bool anyExternal = offsets.Any(o => o is not null);
        if (anyExternal)
        {
            AtomicFile.Write(dataPath, stream =>
            {
                for (int i = 0; i < Initializers.Count; i++)
                {
                    if (offsets[i] is not long offset) continue;
                    if (offset > stream.Position) stream.Write(new byte[offset - stream.Position]);
                    WriteValues(Initializers[i], stream);
                }
            });
        }
        else if (File.Exists(dataPath)) File.Delete(dataPath); // an earlier export's data, which this model does not use

        AtomicFile.Write(full, stream =>
        {
            stream.Write(head);
            WriteTag(stream, GraphField);
            WriteVarint(stream, (ulong)graphLength);
            stream.Write(graph);
            for (int i = 0; i < Initializers.Count; i++)
            {
                WriteTag(stream, InitializerField);
                WriteVarint(stream, (ulong)entryLengths[i]);
                stream.Write(headers[i]);
                if (offsets[i] is not null) continue;
                WriteTag(stream, RawDataField);
                WriteVarint(stream, (ulong)Initializers[i].ByteLength);
                WriteValues(Initializers[i], stream);
            }
        });
        return (new FileInfo(full).Length, anyExternal ? dataPath : null, anyExternal ? dataBytes : 0);
    }

    /// <summary>Whether writing with <paramref name="externalThreshold"/> puts any initializer in an external data file.</summary>
    public bool HasExternalData(long? externalThreshold)
    {
        long threshold = Threshold(externalThreshold);
        return Initializers.Any(i => i.ByteLength >= threshold);
    }

    long Threshold(long? requested)
    {
        if (requested <= 0) throw new ArgumentOutOfRangeException(nameof(requested), "the external data threshold must be positive");
        return requested ?? (InitializerBytes > InlineLimit ? AutomaticThreshold : long.MaxValue);
    }

    // Field numbers of onnx.proto: ModelProto.graph, GraphProto.initializer, TensorProto.raw_data (all length-delimited).
    const int GraphField = 7, InitializerField = 5, RawDataField = 9;

    static long Align(long offset) => (offset + Alignment - 1) / Alignment * Alignment;

    /// <summary>Everything of the initializer's TensorProto but its values: name, type, shape, and where external data lies.</summary>
    static TensorProto Header(OnnxInitializer init, long? offset, string location)
    {
        var proto = new TensorProto
        {
            Name = init.Name,
            DataType = (int)(init.IsInt64 ? TensorProto.Types.DataType.Int64 : TensorProto.Types.DataType.Float),
        };
        proto.Dims.AddRange(init.Shape);
        if (offset is long start)
        {
            proto.DataLocation = TensorProto.Types.DataLocation.External;
            proto.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
            proto.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = start.ToString(CultureInfo.InvariantCulture) });
            proto.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = init.ByteLength.ToString(CultureInfo.InvariantCulture) });
        }
        return proto;
    }

    /// <summary>Computes the initializer and writes its little-endian values straight from the tensor's memory.</summary>
    static void WriteValues(OnnxInitializer init, Stream stream)
    {
        using var scope = NewDisposeScope();
        var typed = init.Compute().to_type(init.IsInt64 ? ScalarType.Int64 : ScalarType.Float32).contiguous().cpu();
        if (!typed.shape.SequenceEqual(init.Shape))
            throw new InvalidOperationException($"initializer {init.Name}: computed shape [{string.Join(", ", typed.shape)}], declared [{string.Join(", ", init.Shape)}]");
        if (init.ByteLength > 0) TensorMemory.ForEachChunk(typed, (span, _) => stream.Write(span));
    }

    static void WriteTag(Stream stream, int field) => WriteVarint(stream, (ulong)(field << 3 | 2));

    static void WriteVarint(Stream stream, ulong value)
    {
        Span<byte> buffer = stackalloc byte[10];
        int n = 0;
        do
        {
            buffer[n++] = (byte)(value & 0x7F | (value > 0x7F ? 0x80u : 0));
            value >>= 7;
        }
        while (value != 0);
        stream.Write(buffer[..n]);
    }

    static int VarintLength(ulong value)
    {
        int n = 1;
        while ((value >>= 7) != 0) n++;
        return n;
    }
}
