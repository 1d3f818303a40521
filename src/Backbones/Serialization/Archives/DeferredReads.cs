namespace Backbones.Serialization.Archives;

/// <summary>
/// Zip members to read into memory that is already allocated, collected while the pickle is read and then read on
/// all cores at once, largest first; each read checks its CRC-32 as it goes (unless told not to).
/// </summary>
internal sealed class DeferredReads(ZipFileReader zip, bool verifyChecksums)
{
    readonly List<(ZipEntry Entry, IntPtr Destination, long Size)> _pending = new();

    public void Add(ZipEntry entry, IntPtr destination, long size) => _pending.Add((entry, destination, size));

    public void ReadAll()
    {
        var work = _pending.OrderByDescending(p => p.Size).ToList();
        try
        {
            Parallel.ForEach(work, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
                p => { unsafe { zip.ReadInto(p.Entry, (byte*)p.Destination, p.Size, verifyChecksums); } });
        }
        catch (AggregateException e) when (e.InnerExceptions.FirstOrDefault(x => x is CheckpointFormatException) is { } first)
        {
            throw first;
        }
    }
}
