using System.Runtime.InteropServices;

namespace Backbones.Runtime;

/// <summary>
/// libtorch's global settings object (<c>at::globalContext()</c>), reached through libtorch_cpu.so's exported C++
/// symbols, for the switches TorchSharp does not expose (<c>torch.backends.mkldnn.enabled</c>, <c>torch.backends.nnpack</c>).
/// </summary>
internal static class LibtorchContext
{
    /// <summary>The context and the library handle to look its member functions up in; <paramref name="purpose"/> names the failure.</summary>
    public static unsafe (IntPtr Context, IntPtr Library) Open(string purpose)
    {
        Libtorch.EnsureLoaded();
        string? folder = Path.GetDirectoryName(Libtorch.FindTorchSharpNative());
        string library = folder is null ? "libtorch_cpu.so" : Path.Combine(folder, "libtorch_cpu.so");
        if (!NativeLibrary.TryLoad(library, out var handle) && !NativeLibrary.TryLoad("libtorch_cpu.so", out handle))
            throw new LibtorchUnavailableException($"cannot open {library} to {purpose}; is libtorch's CPU library next to libLibTorchSharp.so?");
        // at::globalContext(), an Itanium C++ name.
        var context = ((delegate* unmanaged<IntPtr>)NativeLibrary.GetExport(handle, "_ZN2at13globalContextEv"))();
        return (context, handle);
    }

    /// <summary>
    /// Turns NNPACK off, as <c>torch.backends.nnpack.set_flags(False)</c>. Why: on CPUs NNPACK does not support (the
    /// AVX-512 virtual machines here) libtorch 2.10 retries its initialisation and logs a warning on every batched
    /// convolution, thousands of lines in a training run; oneDNN and libtorch's own kernels do those convolutions anyway.
    /// </summary>
    public static unsafe void DisableNnpack()
    {
        var (context, handle) = Open("switch NNPACK off");
        if (NativeLibrary.TryGetExport(handle, "_ZN2at7Context20setUserEnabledNNPACKEb", out var set))
            ((delegate* unmanaged<IntPtr, byte, void>)set)(context, 0);
    }
}
