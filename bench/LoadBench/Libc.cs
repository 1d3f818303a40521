using System.Runtime.InteropServices;

/// <summary>
/// glibc's allocator controls, used to put our process and the Python peer in the same, known memory state
/// (see Program.cs): without them glibc's own heuristics decide, run by run, whether freed tensors go back to the kernel.
/// </summary>
static partial class Libc
{
    const int M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3;

    /// <summary>
    /// Blocks up to 32 MiB (every ResNet-50 storage) come from the heap and freed heap memory is never handed
    /// back to the kernel by itself, so the next load reuses pages already mapped. Set at start-up in both processes.
    /// </summary>
    public static void KeepFreedMemory()
    {
        if (mallopt(M_MMAP_THRESHOLD, 32 << 20) != 1 || mallopt(M_TRIM_THRESHOLD, int.MaxValue) != 1)
            throw new InvalidOperationException("mallopt refused the settings");
    }

    /// <summary>Hands every free page back to the kernel: the next allocations are fresh pages, as in a new process.</summary>
    public static void ReleaseFreedMemory() => malloc_trim(0);

    [LibraryImport("libc.so.6")]
    private static partial int mallopt(int param, int value);

    [LibraryImport("libc.so.6")]
    private static partial int malloc_trim(nuint pad);
}
