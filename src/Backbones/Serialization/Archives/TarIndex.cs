using System.Text;

namespace Backbones.Serialization.Archives;

/// <summary>
/// The members of a tar archive (ustar, GNU long names and PAX paths), by name, with their data offsets:
/// enough for the oldest torch.save format, which is a tar of four members.
/// </summary>
internal static class TarIndex
{
    public static bool LooksLikeTar(ReadOnlySpan<byte> head) =>
        head.Length >= 262 && head.Slice(257, 5).SequenceEqual("ustar"u8);

    public static Dictionary<string, (long Offset, long Size)> Read(Stream stream, string file)
    {
        var members = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        var block = new byte[512];
        string? longName = null;
        long at = 0;
        while (true)
        {
            if (at + 512 > stream.Length) throw new CheckpointFormatException(file, null, "tar archive truncated (no end marker)");
            stream.Position = at;
            stream.ReadExactly(block);
            if (block.All(b => b == 0)) return members;
            if (!ChecksumMatches(block)) throw new CheckpointFormatException(file, $"tar header at offset {at}", "checksum mismatch: the file is corrupted");
            string name = Text(block, 0, 100);
            string prefix = Text(block, 345, 155);
            if (prefix.Length > 0 && block.AsSpan(257, 5).SequenceEqual("ustar"u8)) name = prefix + "/" + name;
            long size = ParseSize(block.AsSpan(124, 12), file, at);
            char type = (char)block[156];
            long data = at + 512;
            if (data + size > stream.Length)
                throw new CheckpointFormatException(file, name, $"declares {size} bytes, beyond the end of the {stream.Length}-byte file");
            switch (type)
            {
                case 'x': // PAX header: its "path" record names the next member
                    longName = PaxPath(stream, data, size) ?? longName;
                    break;
                case 'L': // GNU long name
                    stream.Position = data;
                    var nameBytes = new byte[Math.Min(size, 4096)];
                    stream.ReadExactly(nameBytes);
                    longName = Encoding.UTF8.GetString(nameBytes).TrimEnd('\0');
                    break;
                case 'g':
                    break;
                default:
                    members[longName ?? name] = (data, size);
                    longName = null;
                    break;
            }
            at = data + (size + 511) / 512 * 512;
        }
    }

    static string? PaxPath(Stream stream, long data, long size)
    {
        if (size > 1 << 20) return null;
        stream.Position = data;
        var bytes = new byte[size];
        stream.ReadExactly(bytes);
        foreach (var record in Encoding.UTF8.GetString(bytes).Split('\n'))
        {
            int eq = record.IndexOf('=');
            int space = record.IndexOf(' ');
            if (space >= 0 && eq > space && record[(space + 1)..eq] == "path") return record[(eq + 1)..];
        }
        return null;
    }

    static bool ChecksumMatches(byte[] block)
    {
        long sum = 0;
        for (int i = 0; i < 512; i++) sum += i is >= 148 and < 156 ? (byte)' ' : block[i];
        string stored = Text(block, 148, 8).Trim();
        return stored.Length > 0 && stored.All(c => c is >= '0' and <= '7') && Convert.ToInt64(stored, 8) == sum;
    }

    static long ParseSize(ReadOnlySpan<byte> field, string file, long at)
    {
        if ((field[0] & 0x80) != 0) // base-256 for sizes over 8 GiB
        {
            long v = field[0] & 0x7f;
            foreach (var b in field[1..]) v = checked(v * 256 + b);
            return v;
        }
        string text = Encoding.ASCII.GetString(field).Trim('\0', ' ');
        if (text.Length == 0) return 0;
        if (text.Any(c => c is < '0' or > '7')) throw new CheckpointFormatException(file, $"tar header at offset {at}", "size field is not octal");
        return Convert.ToInt64(text, 8);
    }

    static string Text(byte[] block, int offset, int length)
    {
        var span = block.AsSpan(offset, length);
        int end = span.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? span : span[..end]);
    }
}
