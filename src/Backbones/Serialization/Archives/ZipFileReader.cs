using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Backbones.Serialization.Archives;

/// <summary>One member of a zip archive, as its central directory describes it.</summary>
internal sealed record ZipEntry(string Name, ushort Method, long CompressedSize, long Size, uint Crc32, long HeaderOffset)
{
    /// <summary>Where the member's data begins; set once its local header has been checked.</summary>
    public long DataOffset { get; set; } = -1;
}

/// <summary>
/// A strict reader of zip archives as torch.save writes them (stored members, 64-byte aligned, zip64 when large):
/// every size and offset checked against the file, overlapping members refused, CRC-32 verified on every read,
/// data read straight into the caller's memory.
/// </summary>
internal sealed class ZipFileReader : IDisposable
{
    readonly SafeFileHandle _handle;
    readonly string _file;
    readonly long _length;
    readonly Dictionary<string, ZipEntry> _byName = new(StringComparer.Ordinal);

    public IReadOnlyList<ZipEntry> Entries { get; }

    const uint LocalHeaderSignature = 0x04034b50;
    const uint CentralHeaderSignature = 0x02014b50;
    const uint EndSignature = 0x06054b50;
    const uint Zip64EndSignature = 0x06064b50;
    const uint Zip64LocatorSignature = 0x07064b50;
    const int MaxEntries = 1_000_000;

    public ZipFileReader(SafeFileHandle handle, string file)
    {
        _handle = handle;
        _file = file;
        _length = RandomAccess.GetLength(handle);
        Entries = ReadCentralDirectory();
        foreach (var e in Entries)
            if (!_byName.TryAdd(e.Name, e)) throw Fail(e.Name, "appears twice in the archive");
        CheckNoOverlaps();
    }

    public static bool LooksLikeZip(ReadOnlySpan<byte> head) =>
        head.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(head) == LocalHeaderSignature;

    public ZipEntry? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>Reads a small member whole (a pickle, a version record), refusing one larger than <paramref name="maxBytes"/>.</summary>
    public byte[] ReadAll(ZipEntry entry, long maxBytes)
    {
        if (entry.Size > maxBytes) throw Fail(entry.Name, $"is {entry.Size} bytes, over the {maxBytes}-byte limit for this member");
        var buffer = new byte[entry.Size];
        ReadInto(entry, buffer);
        return buffer;
    }

    /// <summary>Reads a member into <paramref name="target"/>, which must be exactly its size; CRC-32 checked.</summary>
    public unsafe void ReadInto(ZipEntry entry, Span<byte> target)
    {
        fixed (byte* p = target) ReadInto(entry, p, target.Length);
    }

    /// <summary>
    /// Reads a member straight into native memory of exactly its size and checks its CRC-32. The check runs chunk by
    /// chunk right after each read, while the chunk is still in the CPU cache. Safe to call from several threads.
    /// </summary>
    public unsafe void ReadInto(ZipEntry entry, byte* destination, long size, bool verify = true)
    {
        if (size != entry.Size) throw Fail(entry.Name, $"holds {entry.Size} bytes but {size} were expected");
        long at = DataOffset(entry);
        var crc = new Crc32();
        using var inflate = entry.Method == 8 ? OpenDeflate(entry, at) : null;
        for (long done = 0; done < size; done += ChunkBytes)
        {
            var span = new Span<byte>(destination + done, (int)Math.Min(ChunkBytes, size - done));
            if (inflate is null)
            {
                ReadAt(span, at + done, entry.Name, "data");
            }
            else
            {
                try
                {
                    inflate.ReadExactly(span);
                }
                catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
                {
                    throw Fail(entry.Name, "compressed data is damaged or shorter than declared", e);
                }
            }
            if (verify) crc.Append(span);
        }
        if (verify && crc.GetCurrentHashAsUInt32() != entry.Crc32)
            throw Fail(entry.Name, $"CRC-32 mismatch (stored {entry.Crc32:x8}, data {crc.GetCurrentHashAsUInt32():x8}): the file is corrupted");
    }

    /// <summary>Small enough to stay in the CPU cache between the read and the CRC over it.</summary>
    const int ChunkBytes = 1 << 20;

    Stream OpenDeflate(ZipEntry entry, long at)
    {
        var raw = new FileStream(_handle, FileAccess.Read, 1 << 16, false) { Position = at };
        return new DeflateStream(new BoundedStream(raw, entry.CompressedSize), CompressionMode.Decompress);
    }

    long DataOffset(ZipEntry entry)
    {
        if (entry.DataOffset >= 0) return entry.DataOffset;
        Span<byte> header = stackalloc byte[30];
        ReadAt(header, entry.HeaderOffset, entry.Name, "local header");
        if (BinaryPrimitives.ReadUInt32LittleEndian(header) != LocalHeaderSignature)
            throw Fail(entry.Name, $"no local header at offset {entry.HeaderOffset}");
        int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(header[26..]);
        int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(header[28..]);
        long data = entry.HeaderOffset + 30 + nameLength + extraLength;
        if (data + entry.CompressedSize > _length)
            throw Fail(entry.Name, $"declares {entry.CompressedSize} bytes at offset {data}, beyond the end of the {_length}-byte file");
        entry.DataOffset = data;
        return data;
    }

    IReadOnlyList<ZipEntry> ReadCentralDirectory()
    {
        // The end record sits in the last 64 KiB + 22 bytes (its comment is at most 65535 bytes).
        int tailLength = (int)Math.Min(_length, 65557);
        var tail = new byte[tailLength];
        ReadAt(tail, _length - tailLength, null, "end of central directory");
        int end = -1;
        for (int i = tailLength - 22; i >= 0; i--)
            if (BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(i)) == EndSignature) { end = i; break; }
        if (end < 0) throw Fail(null, "not a complete zip archive: no end-of-central-directory record (truncated?)");

        long endOffset = _length - tailLength + end;
        long count = BinaryPrimitives.ReadUInt16LittleEndian(tail.AsSpan(end + 10));
        long cdSize = BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(end + 12));
        long cdOffset = BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(end + 16));
        if (count == 0xFFFF || cdSize == 0xFFFFFFFF || cdOffset == 0xFFFFFFFF)
            (count, cdSize, cdOffset) = ReadZip64End(endOffset);

        if (count > MaxEntries) throw Fail(null, $"declares {count} members, over the limit of {MaxEntries}");
        if (cdOffset < 0 || cdSize < 0 || cdOffset + cdSize > endOffset)
            throw Fail(null, "central directory lies outside the file (truncated or corrupted)");

        var directory = new byte[cdSize];
        ReadAt(directory, cdOffset, null, "central directory");
        var entries = new List<ZipEntry>((int)count);
        int at = 0;
        for (long i = 0; i < count; i++)
        {
            if (at + 46 > directory.Length || BinaryPrimitives.ReadUInt32LittleEndian(directory.AsSpan(at)) != CentralHeaderSignature)
                throw Fail(null, $"central directory entry {i} is damaged");
            var h = directory.AsSpan(at);
            ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(h[8..]);
            ushort method = BinaryPrimitives.ReadUInt16LittleEndian(h[10..]);
            uint crc = BinaryPrimitives.ReadUInt32LittleEndian(h[16..]);
            long compressed = BinaryPrimitives.ReadUInt32LittleEndian(h[20..]);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(h[24..]);
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(h[28..]);
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(h[30..]);
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(h[32..]);
            long headerOffset = BinaryPrimitives.ReadUInt32LittleEndian(h[42..]);
            int recordLength = 46 + nameLength + extraLength + commentLength;
            if (at + recordLength > directory.Length) throw Fail(null, $"central directory entry {i} runs past the directory");
            string name = Encoding.UTF8.GetString(h.Slice(46, nameLength));
            ReadZip64Extra(h.Slice(46 + nameLength, extraLength), name, ref size, ref compressed, ref headerOffset);

            if ((flags & 1) != 0) throw Fail(name, "is encrypted");
            if (method is not (0 or 8)) throw Fail(name, $"uses compression method {method}; only stored and deflate are supported");
            if (method == 0 && compressed != size) throw Fail(name, "stored member whose compressed and plain sizes differ");
            if (headerOffset < 0 || headerOffset + 30 > cdOffset)
                throw Fail(name, $"local header offset {headerOffset} lies outside the archive's data");
            entries.Add(new ZipEntry(name, method, compressed, size, crc, headerOffset));
            at += recordLength;
        }
        return entries;
    }

    (long Count, long Size, long Offset) ReadZip64End(long endOffset)
    {
        Span<byte> locator = stackalloc byte[20];
        if (endOffset < 20) throw Fail(null, "zip64 locator missing");
        ReadAt(locator, endOffset - 20, null, "zip64 locator");
        if (BinaryPrimitives.ReadUInt32LittleEndian(locator) != Zip64LocatorSignature) throw Fail(null, "zip64 locator missing");
        long recordOffset = (long)BinaryPrimitives.ReadUInt64LittleEndian(locator[8..]);
        if (recordOffset < 0 || recordOffset + 56 > endOffset) throw Fail(null, "zip64 end record lies outside the file");
        Span<byte> record = stackalloc byte[56];
        ReadAt(record, recordOffset, null, "zip64 end record");
        if (BinaryPrimitives.ReadUInt32LittleEndian(record) != Zip64EndSignature) throw Fail(null, "zip64 end record is damaged");
        return ((long)BinaryPrimitives.ReadUInt64LittleEndian(record[32..]),
                (long)BinaryPrimitives.ReadUInt64LittleEndian(record[40..]),
                (long)BinaryPrimitives.ReadUInt64LittleEndian(record[48..]));
    }

    void ReadZip64Extra(ReadOnlySpan<byte> extra, string name, ref long size, ref long compressed, ref long offset)
    {
        while (extra.Length >= 4)
        {
            ushort id = BinaryPrimitives.ReadUInt16LittleEndian(extra);
            int length = BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]);
            if (4 + length > extra.Length) throw Fail(name, "extra field runs past its record");
            if (id == 1)
            {
                var field = extra.Slice(4, length);
                long Next(ref ReadOnlySpan<byte> f)
                {
                    if (f.Length < 8) throw Fail(name, "zip64 extra field too short");
                    long v = (long)BinaryPrimitives.ReadUInt64LittleEndian(f);
                    f = f[8..];
                    return v;
                }
                if (size == 0xFFFFFFFF) size = Next(ref field);
                if (compressed == 0xFFFFFFFF) compressed = Next(ref field);
                if (offset == 0xFFFFFFFF) offset = Next(ref field);
            }
            extra = extra[(4 + length)..];
        }
        if (size < 0 || compressed < 0 || offset < 0) throw Fail(name, "declares a size or offset beyond 2^63");
    }

    void CheckNoOverlaps()
    {
        ZipEntry? previous = null;
        long previousEnd = 0;
        foreach (var e in Entries.OrderBy(e => e.HeaderOffset))
        {
            if (previous is not null && e.HeaderOffset < previousEnd)
                throw Fail(e.Name, $"overlaps member '{previous.Name}'");
            long data = DataOffset(e);
            previous = e;
            previousEnd = data + e.CompressedSize;
        }
    }

    void ReadAt(Span<byte> buffer, long offset, string? entry, string what)
    {
        if (offset < 0 || offset + buffer.Length > _length) throw Fail(entry, $"{what} lies outside the file (truncated?)");
        int done = 0;
        while (done < buffer.Length)
        {
            int n = RandomAccess.Read(_handle, buffer[done..], offset + done);
            if (n <= 0) throw Fail(entry, $"{what} is truncated");
            done += n;
        }
    }

    CheckpointFormatException Fail(string? entry, string problem, Exception? inner = null) => new(_file, entry, problem, inner);

    public void Dispose() => _handle.Dispose();
}
