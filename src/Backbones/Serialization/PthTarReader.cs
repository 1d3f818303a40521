using Backbones.Serialization.Archives;
using Backbones.Serialization.Pickle;
using static TorchSharp.torch;

namespace Backbones.Serialization;

/// <summary>
/// Reads the oldest torch.save format (2017 and before): a tar of <c>storages</c> (count, then per storage a
/// pickled (key, location, type), its element count and data, then storage views), <c>tensors</c> (per tensor
/// its storage, sizes, strides and offset as raw integers) and <c>pickle</c>, whose persistent ids are tensor keys.
/// </summary>
internal static class PthTarReader
{
    public static object? Read(Stream stream, string file, PickleLimits limits)
    {
        var members = TarIndex.Read(stream, file);
        BoundedStream Open(string name)
        {
            if (!members.TryGetValue(name, out var m)) throw new CheckpointFormatException(file, name, "member missing from the tar checkpoint");
            stream.Position = m.Offset;
            return new BoundedStream(stream, m.Size, leaveOpen: true);
        }
        var noStorage = new TorchUnpickler(file, (_, where) => throw new CheckpointFormatException(file, where, "unexpected storage reference"));

        var storages = new Dictionary<string, StorageRef>(StringComparer.Ordinal);
        using (var s = Open("storages"))
        {
            long count = PickledCount(s, file, "storages", noStorage, limits);
            for (long i = 0; i < count; i++)
            {
                string where = $"storages (storage {i})";
                if (PthLegacyReader.ReadPickle(s, file, where, noStorage, limits) is not object?[] { Length: 3 } header || header[2] is not TorchDType dtype)
                    throw new CheckpointFormatException(file, where, "storage header is not (key, location, storage type)");
                string key = KeyOf(header[0], file, where);
                long numel = PeekCount(s, file, where);
                long bytes = StorageRef.ByteSize(file, where, numel, dtype);
                if (bytes > s.Length - s.Position - 8) throw new CheckpointFormatException(file, where, $"declares {bytes} bytes, more than the member holds");
                var storage = new StorageRef(file, key, dtype, empty([numel], dtype.ScalarType));
                PthLegacyReader.ReadStorageData(s, file, where, storage, swap: false);
                storages[key] = storage;
            }
            if (PthLegacyReader.ReadPickle(s, file, "storages (views)", noStorage, limits) is not List<object?> views)
                throw new CheckpointFormatException(file, "storages (views)", "is not a list");
            foreach (var v in views)
            {
                if (v is not object?[] { Length: 4 } view || view[2] is not long offset || view[3] is not long numel)
                    throw new CheckpointFormatException(file, "storages (views)", "a view is not (target, root, offset, numel)");
                var root = Lookup(storages, KeyOf(view[1], file, "storages (views)"), file, "storages (views)");
                if (offset < 0 || numel < 0 || offset + numel > root.Numel)
                    throw new CheckpointFormatException(file, "storages (views)", "view lies outside its storage");
                storages[KeyOf(view[0], file, "storages (views)")] = new StorageRef(file, root.Key, root.DType, root.Data.narrow(0, offset, numel));
            }
        }

        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using (var s = Open("tensors"))
        {
            long count = PickledCount(s, file, "tensors", noStorage, limits);
            for (long i = 0; i < count; i++)
            {
                string where = $"tensors (tensor {i})";
                if (PthLegacyReader.ReadPickle(s, file, where, noStorage, limits) is not object?[] { Length: 3 } header)
                    throw new CheckpointFormatException(file, where, "tensor header is not (key, storage id, type)");
                var storage = Lookup(storages, KeyOf(header[1], file, where), file, where);
                var head = ReadInt64s(s, 1, file, where);
                int ndim = (int)(head[0] & 0xffffffff); // an int32 count, then 4 bytes of padding
                if (ndim is < 0 or > 64) throw new CheckpointFormatException(file, where, $"implausible dimension count {ndim}");
                var sizes = ReadInt64s(s, ndim, file, where);
                var strides = ReadInt64s(s, ndim, file, where);
                long offset = ReadInt64s(s, 1, file, where)[0];
                tensors[KeyOf(header[0], file, where)] = storage.View(offset, sizes, strides, where);
            }
        }

        using (var s = Open("pickle"))
        {
            var resolver = new TorchUnpickler(file, (_, where) => throw new CheckpointFormatException(file, where, "storage id in the object pickle"));
            var byKey = new TensorKeyResolver(resolver, tensors, file);
            return new PickleReader(s, file, "pickle", byKey, limits, s.Length).Load();
        }
    }

    /// <summary>The object pickle names tensors by key; a tuple id is a whole pickled nn.Module, refused.</summary>
    sealed class TensorKeyResolver(TorchUnpickler inner, Dictionary<string, Tensor> tensors, string file) : IPickleResolver
    {
        public object ResolveGlobal(string module, string name, string where) => inner.ResolveGlobal(module, name, where);
        public object? Call(object? callable, object?[] args, string where) => inner.Call(callable, args, where);
        public object? Build(object? target, object? state, string where) => inner.Build(target, state, where);

        public object? PersistentLoad(object? id, string where)
        {
            if (id is object?[]) throw new CheckpointFormatException(file, where, "the file pickles a whole nn.Module; only state dicts and plain containers are read");
            return tensors.TryGetValue(KeyOf(id, file, where), out var t) ? t
                : throw new CheckpointFormatException(file, where, $"tensor {id} is not in the tensors member");
        }
    }

    static long PickledCount(Stream s, string file, string where, TorchUnpickler resolver, PickleLimits limits) =>
        PthLegacyReader.ReadPickle(s, file, where, resolver, limits) is long n && n >= 0 && n <= s.Length
            ? n : throw new CheckpointFormatException(file, where, "count is not a plausible integer");

    static long PeekCount(Stream s, string file, string where)
    {
        long at = s.Position;
        long n = ReadInt64s(s, 1, file, where)[0];
        s.Position = at;
        return n;
    }

    static long[] ReadInt64s(Stream s, int count, string file, string where)
    {
        var bytes = new byte[count * 8];
        PthLegacyReader.ReadExactly(s, bytes, file, where);
        return Enumerable.Range(0, count).Select(i => BitConverter.ToInt64(bytes, i * 8)).ToArray();
    }

    static StorageRef Lookup(Dictionary<string, StorageRef> storages, string key, string file, string where) =>
        storages.TryGetValue(key, out var s) ? s : throw new CheckpointFormatException(file, where, $"unknown storage {key}");

    static string KeyOf(object? key, string file, string where) => key switch
    {
        string s => s,
        long l => l.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => throw new CheckpointFormatException(file, where, $"key {TorchUnpickler.Describe(key)} is not a string or integer"),
    };
}
