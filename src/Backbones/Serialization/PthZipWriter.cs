using System.Text;
using Backbones.Serialization.Archives;
using Backbones.Serialization.Pickle;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Serialization;

/// <summary>
/// Writes the zip checkpoint format that <c>torch.load(weights_only=True)</c> reads: tensors pickled through
/// <c>torch._utils._rebuild_tensor_v2</c>, one member per storage, storages shared between views written once.
/// </summary>
internal static class PthZipWriter
{
    const string Archive = "archive";

    public static void Write(Stream stream, object? root)
    {
        var storages = new List<(Tensor Owner, TorchDType DType, long Bytes)>();
        var keyOf = new Dictionary<(IntPtr, TorchDType), string>();
        // CPU copies of device tensors die with the scope; the caller's tensors are not in it.
        using var scope = NewDisposeScope();

        object? Translate(object value)
        {
            if (value is not Tensor tensor) return null;
            if (tensor.device_type != DeviceType.CPU)
            {
                tensor = tensor.cpu();
            }
            var dtype = TorchDType.Of(tensor.dtype);
            var storageStart = TensorMemory.StoragePointer(tensor);
            long storageBytes = TensorMemory.StorageBytes(tensor);
            if (!keyOf.TryGetValue((storageStart, dtype), out var key) || storageStart == IntPtr.Zero)
            {
                key = storages.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
                keyOf[(storageStart, dtype)] = key;
                storages.Add((tensor, dtype, storageBytes));
            }
            var storageId = new PickleWriter.PersistentId(["storage", new PyGlobal("torch", dtype.StorageClass), key, "cpu", storageBytes / dtype.ElementSize]);
            return new PickleWriter.Reduce(new PyGlobal("torch._utils", "_rebuild_tensor_v2"),
            [
                storageId, tensor.storage_offset(), ToTuple(tensor.shape), ToTuple(tensor.stride()), false,
                new PickleWriter.Reduce(new PyGlobal("collections", "OrderedDict"), []),
            ]);
        }

        var pickle = new MemoryStream();
        new PickleWriter(pickle, Translate).WritePickle(root);
        var zip = new ZipFileWriter(stream);
        zip.Add($"{Archive}/data.pkl", pickle.GetBuffer().AsSpan(0, (int)pickle.Length));
        zip.Add($"{Archive}/byteorder", "little"u8);
        for (int i = 0; i < storages.Count; i++)
        {
            var (owner, _, bytes) = storages[i];
            var start = TensorMemory.StoragePointer(owner);
            zip.Add($"{Archive}/data/{i}", bytes, emit => TensorMemory.ForEachChunk(start, bytes, (span, _) => emit(span)));
        }
        zip.Add($"{Archive}/version", Encoding.ASCII.GetBytes("3\n"));
        zip.Finish();
    }

    static object?[] ToTuple(long[] values) => values.Select(v => (object?)v).ToArray();
}
