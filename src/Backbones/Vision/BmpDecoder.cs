using System.Buffers.Binary;
using System.Numerics;

namespace Backbones.Vision;

/// <summary>
/// Windows BMP files, which libvips' build lacks: 1/4/8-bit palette, 16/32-bit with or without bit masks, 24-bit,
/// bottom-up or top-down; RLE compression is refused. Every size and offset is checked against the file.
/// </summary>
internal static class BmpDecoder
{
    const int MaxSide = 1 << 15;
    const long MaxPixels = 1L << 28;

    public static DecodedImage Decode(byte[] file, string source)
    {
        var b = file.AsSpan();
        void Fail(string problem) => throw new ImageDecodeException(source, "BMP: " + problem);
        if (b.Length < 26) Fail($"file of {b.Length} bytes is shorter than its headers");
        long dataOffset = BinaryPrimitives.ReadUInt32LittleEndian(b[10..]);
        int headerSize = BinaryPrimitives.ReadInt32LittleEndian(b[14..]);
        if (headerSize is not (12 or 40 or 52 or 56 or 64 or 108 or 124)) Fail($"unknown header size {headerSize}");
        if (14L + headerSize > b.Length) Fail($"header of {headerSize} bytes runs past the end of the file");
        var h = b.Slice(14, headerSize);
        bool core = headerSize == 12;
        long width = core ? BinaryPrimitives.ReadUInt16LittleEndian(h[4..]) : BinaryPrimitives.ReadInt32LittleEndian(h[4..]);
        long rawHeight = core ? BinaryPrimitives.ReadUInt16LittleEndian(h[6..]) : BinaryPrimitives.ReadInt32LittleEndian(h[8..]);
        int bits = BinaryPrimitives.ReadUInt16LittleEndian(core ? h[10..] : h[14..]);
        uint compression = core ? 0 : BinaryPrimitives.ReadUInt32LittleEndian(h[16..]);
        bool topDown = rawHeight < 0;
        long height = Math.Abs(rawHeight);
        if (width < 1 || height < 1 || width > MaxSide || height > MaxSide || width * height > MaxPixels)
            Fail($"size {width}×{rawHeight} out of range");
        if (bits is not (1 or 4 or 8 or 16 or 24 or 32)) Fail($"{bits} bits a pixel is not a BMP depth");
        if (compression is 1 or 2) Fail("RLE-compressed BMP is not supported");
        if (compression is not (0 or 3 or 6)) Fail($"compression {compression} is not supported");
        if (compression != 0 && bits is not (16 or 32)) Fail($"bit masks on a {bits}-bit BMP");

        // Bit masks: inside a V2+ header, or after a 40-byte one.
        uint[] masks = bits == 16 ? [0x7C00, 0x03E0, 0x001F] : [0xFF0000, 0xFF00, 0xFF];
        int afterHeader = 14 + headerSize;
        if (compression != 0)
        {
            var maskBytes = headerSize >= 52 ? h[40..52] : b.Length >= afterHeader + 12 ? b.Slice(afterHeader, 12) : default;
            if (maskBytes.Length < 12) Fail("bit masks run past the end of the file");
            masks = [BinaryPrimitives.ReadUInt32LittleEndian(maskBytes), BinaryPrimitives.ReadUInt32LittleEndian(maskBytes[4..]), BinaryPrimitives.ReadUInt32LittleEndian(maskBytes[8..])];
            if (headerSize == 40) afterHeader += compression == 6 ? 16 : 12;
            if (masks.Any(m => m == 0 || !Contiguous(m))) Fail($"bit masks {string.Join(", ", masks.Select(m => $"0x{m:X}"))} are not contiguous");
        }

        byte[] palette = [];
        if (bits <= 8)
        {
            uint used = core ? 0 : BinaryPrimitives.ReadUInt32LittleEndian(h[32..]);
            long entries = used == 0 ? 1L << bits : used;
            int entrySize = core ? 3 : 4;
            if (entries > 256 || afterHeader + entries * entrySize > b.Length) Fail($"palette of {entries} entries does not fit the file");
            palette = new byte[entries * 3];
            for (int i = 0; i < entries; i++)
            {
                var e = b.Slice(afterHeader + i * entrySize, 3);
                palette[i * 3] = e[2];
                palette[i * 3 + 1] = e[1];
                palette[i * 3 + 2] = e[0];
            }
        }

        long stride = (width * bits + 31) / 32 * 4;
        if (dataOffset < afterHeader || dataOffset + stride * height > b.Length)
            Fail($"pixel data ({stride * height} bytes at offset {dataOffset}) runs past the end of the file ({b.Length} bytes)");

        int w = (int)width, ht = (int)height;
        var rgb = new byte[(long)w * ht * 3];
        var shifts = masks.Select(m => BitOperations.TrailingZeroCount(m)).ToArray();
        var maxima = masks.Select((m, i) => m >> shifts[i]).ToArray();
        for (int y = 0; y < ht; y++)
        {
            var row = b.Slice((int)(dataOffset + stride * (topDown ? y : ht - 1 - y)), (int)stride);
            int d = y * w * 3;
            for (int x = 0; x < w; x++, d += 3)
            {
                switch (bits)
                {
                    case 24:
                    case 32 when compression == 0:
                        int o = x * (bits / 8);
                        rgb[d] = row[o + 2];
                        rgb[d + 1] = row[o + 1];
                        rgb[d + 2] = row[o];
                        break;
                    case 16:
                    case 32:
                        uint v = bits == 16 ? BinaryPrimitives.ReadUInt16LittleEndian(row[(x * 2)..]) : BinaryPrimitives.ReadUInt32LittleEndian(row[(x * 4)..]);
                        for (int c = 0; c < 3; c++) rgb[d + c] = Scale((v & masks[c]) >> shifts[c], maxima[c]);
                        break;
                    default:
                        int perByte = 8 / bits;
                        int index = (row[x / perByte] >> (8 - bits * (x % perByte + 1))) & ((1 << bits) - 1);
                        if (index * 3 >= palette.Length) Fail($"pixel ({x}, {y}) uses colour {index} of a {palette.Length / 3}-colour palette");
                        rgb[d] = palette[index * 3];
                        rgb[d + 1] = palette[index * 3 + 1];
                        rgb[d + 2] = palette[index * 3 + 2];
                        break;
                }
            }
        }
        return new DecodedImage(source, w, ht, rgb, null);
    }

    static bool Contiguous(uint mask)
    {
        uint shifted = mask >> BitOperations.TrailingZeroCount(mask);
        return (shifted & (shifted + 1)) == 0;
    }

    // A k-bit field scaled to 8 bits as PIL's unpackers do it: v * 255 / (2^k - 1), truncated.
    static byte Scale(uint value, uint max) => max == 255 ? (byte)value : (byte)(value * 255UL / max);
}
