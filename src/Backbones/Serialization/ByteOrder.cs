using System.Buffers.Binary;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Backbones.Serialization;

/// <summary>Byte swapping for storages saved on a machine of the other endianness.</summary>
internal static class ByteOrder
{
    public static void SwapInPlace(Tensor contiguous, TorchDType dtype)
    {
        // Complex numbers are two floats, each swapped on its own.
        int width = dtype.ScalarType switch
        {
            ScalarType.ComplexFloat32 => 4,
            ScalarType.ComplexFloat64 => 8,
            _ => dtype.ElementSize,
        };
        TensorMemory.ForEachChunk(contiguous, (span, _) => Swap(span, width));
    }

    public static void Swap(Span<byte> span, int width)
    {
        switch (width)
        {
            case 2: BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, ushort>(span), MemoryMarshal.Cast<byte, ushort>(span)); break;
            case 4: BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, uint>(span), MemoryMarshal.Cast<byte, uint>(span)); break;
            case 8: BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, ulong>(span), MemoryMarshal.Cast<byte, ulong>(span)); break;
        }
    }
}
