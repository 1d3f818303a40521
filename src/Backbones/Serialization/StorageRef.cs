using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Serialization;

/// <summary>
/// One storage of a checkpoint, held as a 1-D tensor of its dtype; every tensor of the checkpoint that
/// uses it is a strided view of it, so views share memory as they do in PyTorch.
/// </summary>
internal sealed class StorageRef(string file, string key, TorchDType dtype, Tensor data)
{
    public string Key { get; } = key;
    public TorchDType DType { get; } = dtype;
    public Tensor Data { get; } = data;
    public long Numel => Data.NumberOfElements;

    /// <summary>A view, checked to lie inside the storage (libtorch would otherwise fail with its own trace).</summary>
    public Tensor View(long offset, long[] size, long[] stride, string where)
    {
        if (size.Length != stride.Length)
            throw Fail(where, $"size has {size.Length} dimensions but stride has {stride.Length}");
        if (offset < 0 || size.Any(s => s < 0) || stride.Any(s => s < 0))
            throw Fail(where, "negative size, stride or storage offset");
        if (!size.Contains(0))
        {
            long last = offset;
            try
            {
                for (int i = 0; i < size.Length; i++) last = checked(last + (size[i] - 1) * stride[i]);
            }
            catch (OverflowException)
            {
                throw Fail(where, "tensor extent overflows");
            }
            if (last >= Numel)
                throw Fail(where, $"tensor of size ({string.Join(", ", size)}) at offset {offset} reaches element {last} of a {Numel}-element storage '{Key}'");
        }
        // as_strided counts its offset from the start of the underlying storage, which a legacy storage view does not.
        return Data.as_strided(size, stride, Data.storage_offset() + offset);
    }

    CheckpointFormatException Fail(string where, string problem) => new(file, where, problem);

    /// <summary>numel × element size, refusing negative or overflowing counts before anything is allocated.</summary>
    public static long ByteSize(string file, string where, long numel, TorchDType dtype)
    {
        if (numel < 0) throw new CheckpointFormatException(file, where, $"negative element count {numel}");
        try
        {
            return checked(numel * dtype.ElementSize);
        }
        catch (OverflowException)
        {
            throw new CheckpointFormatException(file, where, $"element count {numel} overflows");
        }
    }
}
