using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Serialization;

/// <summary>
/// Raw access to a CPU tensor's memory and its storage, so checkpoint data moves between file and tensor
/// in one copy, without per-element work in C#.
/// </summary>
internal static partial class TensorMemory
{
    /// <summary>Largest span handed out at once (Span lengths are 32-bit).</summary>
    const long ChunkBytes = 1L << 30;

    /// <summary>Calls <paramref name="action"/> on consecutive spans covering a contiguous CPU tensor's bytes.</summary>
    public static unsafe void ForEachChunk(Tensor contiguous, Action<Span<byte>, long> action) =>
        ForEachChunk(DataPointer(contiguous), contiguous.NumberOfElements * contiguous.ElementSize, action);

    public static unsafe void ForEachChunk(IntPtr start, long totalBytes, Action<Span<byte>, long> action)
    {
        for (long done = 0; done < totalBytes; done += ChunkBytes)
        {
            int length = (int)Math.Min(ChunkBytes, totalBytes - done);
            action(new Span<byte>((byte*)start + done, length), done);
        }
    }

    /// <summary>Address of the tensor's first element (storage offset included).</summary>
    public static IntPtr DataPointer(Tensor t)
    {
        EnsureCpu(t);
        return t.NumberOfElements == 0 ? IntPtr.Zero : THSTensor_data(t.Handle);
    }

    /// <summary>Address of the start of the tensor's whole storage, shared by every view of it.</summary>
    public static IntPtr StoragePointer(Tensor t)
    {
        EnsureCpu(t);
        return THSStorage_data_ptr(t.Handle);
    }

    /// <summary>Size in bytes of the tensor's whole storage.</summary>
    public static long StorageBytes(Tensor t)
    {
        EnsureCpu(t);
        return checked((long)THSStorage_nbytes(t.Handle));
    }

    static void EnsureCpu(Tensor t)
    {
        if (t.device_type != DeviceType.CPU)
            throw new InvalidOperationException("raw memory access needs a CPU tensor");
    }

    [LibraryImport("LibTorchSharp")]
    private static partial IntPtr THSTensor_data(IntPtr tensor);

    [LibraryImport("LibTorchSharp")]
    private static partial IntPtr THSStorage_data_ptr(IntPtr tensor);

    [LibraryImport("LibTorchSharp")]
    private static partial nuint THSStorage_nbytes(IntPtr tensor);
}
