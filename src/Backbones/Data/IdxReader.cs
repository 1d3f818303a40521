using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Data;

/// <summary>
/// Reads IDX files, the format of MNIST and Fashion-MNIST, plain or gzip-compressed (recognised by their first bytes,
/// not their name), into a tensor of the file's type and shape.
/// </summary>
/// <remarks>
/// An IDX file is two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64),
/// the number of dimensions, each dimension as a big-endian int32, then the values, big-endian, and nothing after them.
/// </remarks>
public static class IdxReader
{
    /// <summary>Files over this size (uncompressed data) are refused rather than allocated.</summary>
    public const long MaxDataBytes = int.MaxValue;

    public static Tensor Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new DatasetException(path, "no such IDX file");
        using var file = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[2];
        int sniffed = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        file.Position = 0;
        if (sniffed == 2 && magic[0] == 0x1F && magic[1] == 0x8B)
        {
            using var gzip = new GZipStream(file, CompressionMode.Decompress);
            try
            {
                return Read(gzip, path, knownLength: null, "gzip-compressed ");
            }
            catch (InvalidDataException e)
            {
                throw new DatasetException(path, $"damaged gzip data ({e.Message})", e);
            }
        }
        return Read(file, path, file.Length, "");
    }

    static Tensor Read(Stream stream, string path, long? knownLength, string kind)
    {
        var header = new byte[4];
        int got = stream.ReadAtLeast(header, 4, throwOnEndOfStream: false);
        if (got < 4) throw new DatasetException(path, $"{kind}file of {got} bytes is too short for an IDX header (4 bytes of magic number)");
        if (header[0] != 0 || header[1] != 0)
            throw new DatasetException(path, $"not an IDX file: its {kind}data starts with {Convert.ToHexString(header)}, not two zero bytes, a type and a rank");
        var (type, size, name) = header[2] switch
        {
            0x08 => (ScalarType.Byte, 1, "uint8"),
            0x09 => (ScalarType.Int8, 1, "int8"),
            0x0B => (ScalarType.Int16, 2, "int16"),
            0x0C => (ScalarType.Int32, 4, "int32"),
            0x0D => (ScalarType.Float32, 4, "float32"),
            0x0E => (ScalarType.Float64, 8, "float64"),
            var t => throw new DatasetException(path, $"unknown IDX type byte 0x{t:X2} (known: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64)"),
        };
        int rank = header[3];
        var dimBytes = new byte[4 * rank];
        got = stream.ReadAtLeast(dimBytes, dimBytes.Length, throwOnEndOfStream: false);
        if (got < dimBytes.Length)
            throw new DatasetException(path, $"truncated header: {rank} dimensions need {dimBytes.Length} bytes after the magic number, the file has {got}");
        var shape = new long[rank];
        long count = 1;
        for (int d = 0; d < rank; d++)
        {
            int dim = BinaryPrimitives.ReadInt32BigEndian(dimBytes.AsSpan(4 * d));
            if (dim < 0) throw new DatasetException(path, $"dimension {d} is negative ({dim})");
            shape[d] = dim;
            count = count > MaxDataBytes || dim > MaxDataBytes ? long.MaxValue : count * dim;
        }
        if (shape.Contains(0)) count = 0;
        string described = $"[{string.Join(", ", shape)}] {name}";
        if (count > MaxDataBytes / size)
            throw new DatasetException(path, $"header claims {described}, over {MaxDataBytes} bytes of data; refused");
        long expected = count * size, headerBytes = 4 + dimBytes.Length;

        if (knownLength is long length && length - headerBytes != expected)
            throw new DatasetException(path, Mismatch(described, expected, length - headerBytes));
        var data = ReadData(stream, expected);
        if (data.Length < expected) throw new DatasetException(path, Mismatch(described, expected, data.Length));
        long extra = CountRest(stream);
        if (extra > 0) throw new DatasetException(path, Mismatch(described, expected, expected + extra));
        return ToTensor(data, shape, type, size);
    }

    static string Mismatch(string described, long expected, long actual) => actual < expected
        ? $"truncated: {described} needs {expected} bytes of data, the file holds {actual}"
        : $"{actual - expected} bytes more than {described} needs ({expected} bytes of data, the file holds {actual})";

    /// <summary>Reads up to <paramref name="expected"/> bytes, growing the buffer as data arrives, so a header that lies
    /// about its size costs no more memory than the data really there.</summary>
    static byte[] ReadData(Stream stream, long expected)
    {
        var buffer = new byte[Math.Min(expected, 1 << 20)];
        int filled = 0;
        while (filled < expected)
        {
            if (filled == buffer.Length) Array.Resize(ref buffer, (int)Math.Min(expected, 2L * buffer.Length));
            int n = stream.Read(buffer, filled, buffer.Length - filled);
            if (n == 0) break;
            filled += n;
        }
        if (filled < buffer.Length) Array.Resize(ref buffer, filled);
        return buffer;
    }

    static long CountRest(Stream stream)
    {
        var scratch = new byte[1 << 16];
        long total = 0;
        int n;
        while ((n = stream.Read(scratch)) > 0) total += n;
        return total;
    }

    static Tensor ToTensor(byte[] data, long[] shape, ScalarType type, int size)
    {
        if (size > 1 && BitConverter.IsLittleEndian)
        {
            for (int i = 0; i < data.Length; i += size) data.AsSpan(i, size).Reverse();
        }
        return type switch
        {
            ScalarType.Byte => torch.tensor(data, shape, ScalarType.Byte),
            ScalarType.Int8 => torch.tensor(MemoryMarshal.Cast<byte, sbyte>(data).ToArray(), shape),
            ScalarType.Int16 => torch.tensor(MemoryMarshal.Cast<byte, short>(data).ToArray(), shape),
            ScalarType.Int32 => torch.tensor(MemoryMarshal.Cast<byte, int>(data).ToArray(), shape),
            ScalarType.Float32 => torch.tensor(MemoryMarshal.Cast<byte, float>(data).ToArray(), shape),
            _ => torch.tensor(MemoryMarshal.Cast<byte, double>(data).ToArray(), shape),
        };
    }
}
