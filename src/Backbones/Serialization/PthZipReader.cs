using Backbones.Serialization.Archives;
using Backbones.Serialization.Pickle;
using Microsoft.Win32.SafeHandles;
using static TorchSharp.torch;

namespace Backbones.Serialization;

/// <summary>
/// Reads the zip checkpoint format of PyTorch 1.6 and later: <c>ARCHIVE/data.pkl</c> names storages by key,
/// each storage is the member <c>ARCHIVE/data/KEY</c>, read once, straight into its tensor's memory.
/// </summary>
internal static class PthZipReader
{
    public static unsafe object? Read(SafeFileHandle handle, string file, PickleLimits limits, bool verifyChecksums)
    {
        using var zip = new ZipFileReader(handle, file);
        var reads = new DeferredReads(zip, verifyChecksums);
        var pickleEntry = zip.Entries.FirstOrDefault(e => e.Name.EndsWith("/data.pkl", StringComparison.Ordinal) && e.Name.Count(c => c == '/') == 1)
            ?? throw new CheckpointFormatException(file, null, "zip archive without an ARCHIVE/data.pkl member: not a PyTorch checkpoint");
        string archive = pickleEntry.Name[..^"data.pkl".Length];
        bool bigEndian = ReadByteOrder(zip, archive, file);

        var storages = new Dictionary<string, StorageRef>(StringComparer.Ordinal);
        StorageRef LoadStorage(object?[] id, string where)
        {
            // ('storage', storage_type, key, location, numel)
            if (id.Length != 5 || id[1] is not TorchDType dtype || id[2] is not string key || id[4] is not long numel)
                throw new CheckpointFormatException(file, where, $"malformed storage id (a tuple of {id.Length})");
            if (storages.TryGetValue(key, out var known)) return known;
            var entry = zip.Find($"{archive}data/{key}")
                ?? throw new CheckpointFormatException(file, $"{archive}data/{key}", "storage named by the pickle is missing from the archive");
            long bytes = StorageRef.ByteSize(file, entry.Name, numel, dtype);
            if (bytes != entry.Size)
                throw new CheckpointFormatException(file, entry.Name, $"storage of {numel} {dtype} elements needs {bytes} bytes but the member holds {entry.Size}");
            var data = empty([numel], dtype.ScalarType);
            // Only the shapes matter while the pickle is read; the bytes arrive afterwards, on all cores.
            if (bytes > 0) reads.Add(entry, TensorMemory.DataPointer(data), bytes);
            return storages[key] = new StorageRef(file, key, dtype, data);
        }

        var pickle = zip.ReadAll(pickleEntry, limits.MaxPickleBytes);
        using var stream = new MemoryStream(pickle, writable: false);
        var reader = new PickleReader(stream, file, pickleEntry.Name, new TorchUnpickler(file, LoadStorage), limits, pickle.Length);
        var root = reader.Load();
        reads.ReadAll();
        if (bigEndian)
            foreach (var storage in storages.Values) ByteOrder.SwapInPlace(storage.Data, storage.DType); // after the CRC, which covers the stored bytes
        return root;
    }

    static bool ReadByteOrder(ZipFileReader zip, string archive, string file)
    {
        var entry = zip.Find(archive + "byteorder");
        if (entry is null) return false; // files before the record existed are little-endian
        var text = System.Text.Encoding.ASCII.GetString(zip.ReadAll(entry, 16)).Trim();
        return text switch
        {
            "little" => !BitConverter.IsLittleEndian,
            "big" => BitConverter.IsLittleEndian,
            _ => throw new CheckpointFormatException(file, entry.Name, $"unknown byte order '{text}'"),
        };
    }
}
