using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Backbones.Serialization.Archives;

/// <summary>
/// Writes a zip archive of stored (uncompressed) members, each member's data aligned to 64 bytes as torch.save
/// does (so readers can map it), switching to zip64 records where sizes or offsets need them.
/// </summary>
internal sealed class ZipFileWriter(Stream stream)
{
    const int Alignment = 64;
    const ushort PaddingFieldId = 0x4246; // "FB", the padding field PyTorch's writer uses
    readonly List<(string Name, uint Crc, long Size, long Offset)> _written = new();

    /// <summary>Writes one member whose bytes are produced by <paramref name="chunks"/> (called twice: CRC, then data).</summary>
    public void Add(string name, long size, Action<Action<ReadOnlySpan<byte>>> chunks)
    {
        var crc = new Crc32();
        long counted = 0;
        chunks(span => { crc.Append(span); counted += span.Length; });
        if (counted != size) throw new InvalidOperationException($"member {name}: {counted} bytes produced, {size} declared");
        uint crcValue = crc.GetCurrentHashAsUInt32();

        long offset = stream.Position;
        var nameBytes = Encoding.UTF8.GetBytes(name);
        bool zip64 = size >= uint.MaxValue;
        int zip64Length = zip64 ? 20 : 0;
        long dataStart = offset + 30 + nameBytes.Length + zip64Length + 4;
        int padding = (int)((Alignment - dataStart % Alignment) % Alignment);

        Span<byte> h = stackalloc byte[30];
        BinaryPrimitives.WriteUInt32LittleEndian(h, 0x04034b50);
        BinaryPrimitives.WriteUInt16LittleEndian(h[4..], zip64 ? (ushort)45 : (ushort)20);
        BinaryPrimitives.WriteUInt16LittleEndian(h[6..], 0x0800); // names are UTF-8
        BinaryPrimitives.WriteUInt16LittleEndian(h[8..], 0); // stored
        BinaryPrimitives.WriteUInt32LittleEndian(h[10..], 0x00210000); // 1980-01-01 00:00, a fixed time for reproducible files
        BinaryPrimitives.WriteUInt32LittleEndian(h[14..], crcValue);
        BinaryPrimitives.WriteUInt32LittleEndian(h[18..], zip64 ? uint.MaxValue : (uint)size);
        BinaryPrimitives.WriteUInt32LittleEndian(h[22..], zip64 ? uint.MaxValue : (uint)size);
        BinaryPrimitives.WriteUInt16LittleEndian(h[26..], (ushort)nameBytes.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(h[28..], (ushort)(zip64Length + 4 + padding));
        stream.Write(h);
        stream.Write(nameBytes);
        if (zip64)
        {
            Span<byte> z = stackalloc byte[20];
            BinaryPrimitives.WriteUInt16LittleEndian(z, 1);
            BinaryPrimitives.WriteUInt16LittleEndian(z[2..], 16);
            BinaryPrimitives.WriteUInt64LittleEndian(z[4..], (ulong)size);
            BinaryPrimitives.WriteUInt64LittleEndian(z[12..], (ulong)size);
            stream.Write(z);
        }
        Span<byte> pad = stackalloc byte[4 + Alignment];
        pad.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(pad, PaddingFieldId);
        BinaryPrimitives.WriteUInt16LittleEndian(pad[2..], (ushort)padding);
        stream.Write(pad[..(4 + padding)]);

        long before = stream.Position;
        chunks(span => stream.Write(span));
        if (stream.Position - before != size) throw new InvalidOperationException($"member {name}: data changed while it was written");
        _written.Add((name, crcValue, size, offset));
    }

    public void Add(string name, ReadOnlySpan<byte> data)
    {
        var copy = data.ToArray();
        Add(name, copy.Length, emit => emit(copy));
    }

    /// <summary>Writes the central directory and end records; the archive is complete after this.</summary>
    public void Finish()
    {
        long cdStart = stream.Position;
        Span<byte> h = stackalloc byte[46];
        foreach (var (name, crc, size, offset) in _written)
        {
            var nameBytes = Encoding.UTF8.GetBytes(name);
            var extra = new List<ulong>();
            if (size >= uint.MaxValue) { extra.Add((ulong)size); extra.Add((ulong)size); }
            if (offset >= uint.MaxValue) extra.Add((ulong)offset);
            h.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(h, 0x02014b50);
            BinaryPrimitives.WriteUInt16LittleEndian(h[4..], 45);
            BinaryPrimitives.WriteUInt16LittleEndian(h[6..], extra.Count > 0 ? (ushort)45 : (ushort)20);
            BinaryPrimitives.WriteUInt16LittleEndian(h[8..], 0x0800);
            BinaryPrimitives.WriteUInt32LittleEndian(h[12..], 0x00210000);
            BinaryPrimitives.WriteUInt32LittleEndian(h[16..], crc);
            BinaryPrimitives.WriteUInt32LittleEndian(h[20..], size >= uint.MaxValue ? uint.MaxValue : (uint)size);
            BinaryPrimitives.WriteUInt32LittleEndian(h[24..], size >= uint.MaxValue ? uint.MaxValue : (uint)size);
            BinaryPrimitives.WriteUInt16LittleEndian(h[28..], (ushort)nameBytes.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(h[30..], (ushort)(extra.Count == 0 ? 0 : 4 + 8 * extra.Count));
            BinaryPrimitives.WriteUInt32LittleEndian(h[42..], offset >= uint.MaxValue ? uint.MaxValue : (uint)offset);
            stream.Write(h);
            stream.Write(nameBytes);
            if (extra.Count > 0)
            {
                var z = new byte[4 + 8 * extra.Count];
                BinaryPrimitives.WriteUInt16LittleEndian(z, 1);
                BinaryPrimitives.WriteUInt16LittleEndian(z.AsSpan(2), (ushort)(8 * extra.Count));
                for (int i = 0; i < extra.Count; i++) BinaryPrimitives.WriteUInt64LittleEndian(z.AsSpan(4 + 8 * i), extra[i]);
                stream.Write(z);
            }
        }
        long cdSize = stream.Position - cdStart;
        bool zip64 = _written.Count >= ushort.MaxValue || cdStart >= uint.MaxValue || cdSize >= uint.MaxValue;
        if (zip64)
        {
            long recordAt = stream.Position;
            Span<byte> r = stackalloc byte[56];
            r.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(r, 0x06064b50);
            BinaryPrimitives.WriteUInt64LittleEndian(r[4..], 44);
            BinaryPrimitives.WriteUInt16LittleEndian(r[12..], 45);
            BinaryPrimitives.WriteUInt16LittleEndian(r[14..], 45);
            BinaryPrimitives.WriteUInt64LittleEndian(r[24..], (ulong)_written.Count);
            BinaryPrimitives.WriteUInt64LittleEndian(r[32..], (ulong)_written.Count);
            BinaryPrimitives.WriteUInt64LittleEndian(r[40..], (ulong)cdSize);
            BinaryPrimitives.WriteUInt64LittleEndian(r[48..], (ulong)cdStart);
            stream.Write(r);
            Span<byte> l = stackalloc byte[20];
            l.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(l, 0x07064b50);
            BinaryPrimitives.WriteUInt64LittleEndian(l[8..], (ulong)recordAt);
            BinaryPrimitives.WriteUInt32LittleEndian(l[16..], 1);
            stream.Write(l);
        }
        Span<byte> e = stackalloc byte[22];
        e.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(e, 0x06054b50);
        ushort count = zip64 ? ushort.MaxValue : (ushort)_written.Count;
        BinaryPrimitives.WriteUInt16LittleEndian(e[8..], count);
        BinaryPrimitives.WriteUInt16LittleEndian(e[10..], count);
        BinaryPrimitives.WriteUInt32LittleEndian(e[12..], zip64 ? uint.MaxValue : (uint)cdSize);
        BinaryPrimitives.WriteUInt32LittleEndian(e[16..], zip64 ? uint.MaxValue : (uint)cdStart);
        stream.Write(e);
    }
}
