using System.IO.Hashing;

namespace Backbones.Serialization.Archives;

/// <summary>
/// CRC-32 checks of zip members already read into memory, run on the thread pool while the reader goes on, so
/// verifying a checkpoint costs little more than reading it. Dispose waits for every check still running.
/// </summary>
internal sealed class ChecksumQueue(string file) : IDisposable
{
    readonly List<(ZipEntry Entry, Task<uint> Crc)> _pending = new();

    public void Add(ZipEntry entry, IntPtr data, long size) =>
        _pending.Add((entry, Task.Run(() => { unsafe { return Crc((byte*)data, size); } })));

    /// <summary>Waits for every check and throws for the first member whose data does not match its CRC.</summary>
    public void VerifyAll()
    {
        foreach (var (entry, crc) in _pending) Verify(file, entry, crc.GetAwaiter().GetResult());
    }

    public static unsafe uint Crc(byte* data, long size)
    {
        var crc = new Crc32();
        for (long done = 0; done < size; done += 1L << 30)
            crc.Append(new ReadOnlySpan<byte>(data + done, (int)Math.Min(1L << 30, size - done)));
        return crc.GetCurrentHashAsUInt32();
    }

    public static void Verify(string file, ZipEntry entry, uint actual)
    {
        if (actual != entry.Crc32)
            throw new CheckpointFormatException(file, entry.Name, $"CRC-32 mismatch (stored {entry.Crc32:x8}, data {actual:x8}): the file is corrupted");
    }

    public void Dispose()
    {
        // The checks read memory the caller owns: none may outlive this scope.
        foreach (var (_, crc) in _pending) ((IAsyncResult)crc).AsyncWaitHandle.WaitOne();
    }
}
