using System.Buffers.Binary;
using System.Numerics;
using Backbones.Serialization.Pickle;
using static TorchSharp.torch;

namespace Backbones.Serialization;

/// <summary>
/// Reads the pre-1.6 checkpoint format (and what <c>_use_new_zipfile_serialization=False</c> still writes):
/// pickles of the magic number, protocol version and system info, the object pickle whose persistent ids
/// declare storages, the list of storage keys, then each storage's element count and raw data.
/// </summary>
internal static class PthLegacyReader
{
    static readonly BigInteger MagicNumber = BigInteger.Parse("119547037146038801333356");
    const long ProtocolVersion = 1001;

    public static unsafe object? Read(Stream stream, string file, PickleLimits limits)
    {
        var header = new TorchUnpickler(file, (_, where) => throw new CheckpointFormatException(file, where, "storage reference in a header pickle"));
        if (!Equals(ReadPickle(stream, file, "magic number", header, limits), (object)MagicNumber))
            throw new CheckpointFormatException(file, "magic number", "not a PyTorch checkpoint (wrong magic number)");
        if (ReadPickle(stream, file, "protocol version", header, limits) is not ProtocolVersion)
            throw new CheckpointFormatException(file, "protocol version", "unsupported legacy protocol version");
        bool swap = ReadPickle(stream, file, "sys_info", header, limits) is PyDict info
            && info.TryGetValue("little_endian", out var little) && little is bool isLittle && isLittle != BitConverter.IsLittleEndian;

        var roots = new Dictionary<string, StorageRef>(StringComparer.Ordinal);
        var views = new Dictionary<string, StorageRef>(StringComparer.Ordinal);
        long declaredBytes = 0;
        StorageRef LoadStorage(object?[] id, string where)
        {
            // ('storage', storage_type, root_key, location, numel, view_metadata)
            if (id.Length != 6 || id[1] is not TorchDType dtype || id[2] is not string rootKey || id[4] is not long numel)
                throw new CheckpointFormatException(file, where, $"malformed storage id (a tuple of {id.Length})");
            if (!roots.TryGetValue(rootKey, out var root))
            {
                declaredBytes = checked(declaredBytes + StorageRef.ByteSize(file, where, numel, dtype));
                if (declaredBytes > stream.Length)
                    throw new CheckpointFormatException(file, where, $"storages declare {declaredBytes} bytes, more than the {stream.Length}-byte file holds");
                root = roots[rootKey] = new StorageRef(file, rootKey, dtype, empty([numel], dtype.ScalarType));
            }
            if (id[5] is null) return root;
            if (id[5] is not object?[] { Length: 3 } view || view[0] is not string viewKey || view[1] is not long offset || view[2] is not long size)
                throw new CheckpointFormatException(file, where, "malformed storage view");
            if (views.TryGetValue(viewKey, out var known)) return known;
            if (offset < 0 || size < 0 || offset + size > root.Numel)
                throw new CheckpointFormatException(file, where, $"storage view [{offset}, {offset + size}) outside its {root.Numel}-element storage");
            return views[viewKey] = new StorageRef(file, viewKey, dtype, root.Data.narrow(0, offset, size));
        }

        var result = ReadPickle(stream, file, "object", new TorchUnpickler(file, LoadStorage), limits);
        if (ReadPickle(stream, file, "storage keys", header, limits) is not List<object?> keys)
            throw new CheckpointFormatException(file, "storage keys", "is not a list");

        foreach (var keyObject in keys)
        {
            string key = keyObject as string ?? throw new CheckpointFormatException(file, "storage keys", "a key is not a string");
            if (!roots.TryGetValue(key, out var storage))
                throw new CheckpointFormatException(file, $"storage {key}", "listed but never referenced by the object pickle");
            ReadStorageData(stream, file, $"storage {key}", storage, swap);
        }
        return result;
    }

    /// <summary>An 8-byte element count, then the storage's bytes, read straight into its tensor.</summary>
    internal static unsafe void ReadStorageData(Stream stream, string file, string where, StorageRef storage, bool swap)
    {
        Span<byte> count = stackalloc byte[8];
        ReadExactly(stream, count, file, where);
        long numel = BinaryPrimitives.ReadInt64LittleEndian(count);
        if (swap) numel = BinaryPrimitives.ReverseEndianness(numel);
        if (numel != storage.Numel)
            throw new CheckpointFormatException(file, where, $"data holds {numel} elements but the storage declares {storage.Numel}");
        TensorMemory.ForEachChunk(storage.Data, (span, _) => ReadExactly(stream, span, file, where));
        if (swap) ByteOrder.SwapInPlace(storage.Data, storage.DType);
    }

    internal static object? ReadPickle(Stream stream, string file, string entry, TorchUnpickler resolver, PickleLimits limits) =>
        new PickleReader(stream, file, entry, resolver, limits, stream.Length - stream.Position).Load();

    internal static void ReadExactly(Stream stream, Span<byte> span, string file, string where)
    {
        try
        {
            stream.ReadExactly(span);
        }
        catch (EndOfStreamException e)
        {
            throw new CheckpointFormatException(file, where, "truncated: the file ends inside this storage's data", e);
        }
    }
}
