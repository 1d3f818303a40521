using System.Runtime.InteropServices;
using Backbones.Runtime;
using static TorchSharp.torch;

namespace Backbones.Data;

/// <summary>
/// Makes libtorch run the tensor operations of the calling thread on that thread alone, as PyTorch's DataLoader
/// workers do (<c>torch.set_num_threads(1)</c> in each worker process). Why: each thread that enters an OpenMP region
/// gets its own team, so loader workers splitting small operations over all cores fight the training thread's team
/// for the same cores; on a busy 2-core machine a 3×64×64 hue shift took 36 ms that way against 0.4 ms alone.
/// </summary>
/// <remarks>
/// <c>torch.set_num_threads</c> cannot be used: it also changes the default of every thread libtorch has not yet
/// seen, the training thread possibly among them. OpenMP's own <c>omp_set_num_threads</c> changes only the calling
/// thread. It is looked up through libtorch_cpu's dependencies; where it is missing (no OpenMP), nothing changes.
/// </remarks>
internal static class WorkerThreads
{
    static readonly Lazy<IntPtr> SetNumThreads = new(Find);

    public static unsafe void UseOneThread()
    {
        var set = SetNumThreads.Value;
        if (set == IntPtr.Zero) return;
        _ = get_num_threads(); // libtorch sets a thread's OpenMP default on first use; let it, then override it
        ((delegate* unmanaged<int, void>)set)(1);
    }

    static IntPtr Find()
    {
        Libtorch.EnsureLoaded();
        string? folder = Path.GetDirectoryName(Libtorch.FindTorchSharpNative());
        foreach (var library in new[] { folder is null ? null : Path.Combine(folder, "libtorch_cpu.so"), "libtorch_cpu.so" })
        {
            // dlsym on a library's handle searches its dependencies too, so this finds the libgomp libtorch was built with.
            if (library is not null && NativeLibrary.TryLoad(library, out var handle) && NativeLibrary.TryGetExport(handle, "omp_set_num_threads", out var set))
                return set;
        }
        return IntPtr.Zero;
    }
}
