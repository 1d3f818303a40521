using System.Runtime.InteropServices;

namespace Backbones.Runtime;

/// <summary>
/// Makes glibc keep the memory libtorch frees, for processes that run many large CPU forwards: libtorch has no
/// caching allocator on the CPU, so every activation over glibc's mmap threshold is a fresh mapping whose pages fault
/// in one by one, forward after forward. ResNet-50 at batch 32 spends most of its time there (measured 1.6 images/s
/// against 8-10 with this). A process-wide setting, so it is the application's choice, never made by the library itself;
/// the <c>backbones</c> command makes it for embed and classify. The same holds for any process started with
/// <c>MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736</c>.
/// </summary>
public static partial class NativeHeap
{
    const int M_TRIM_THRESHOLD = -1, M_MMAP_MAX = -4;

    /// <summary>
    /// From now on glibc serves every allocation from its heap (no mmap) and never trims freed memory back to the kernel,
    /// so the next forward reuses pages already mapped. Returns false where glibc is not the C library (nothing changes).
    /// </summary>
    public static bool KeepFreedMemory()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, int.MaxValue) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // musl and others have no mallopt
        }
    }

    [LibraryImport("libc.so.6")]
    private static partial int mallopt(int param, int value);
}
