using System.Runtime.InteropServices;

namespace Backbones.Runtime;

/// <summary>
/// Switches libtorch's oneDNN (mkldnn) kernels off and on, as <c>torch.backends.mkldnn.enabled</c> does in Python.
/// Why: the oneDNN in libtorch 2.10 divides by the CPU's cache size when planning the backward pass of some strided
/// 1×1 convolutions (ResNet-50's downsample in layer3 and layer4) and dies with SIGFPE on machines that hide their
/// cache sizes, as many virtual machines do (fixed upstream in oneDNN PR #4990). Inference and the forward pass are
/// unaffected. <see cref="GuardBackward"/> turns oneDNN off only in the backward of those convolutions (training at
/// full speed); <see cref="Backward"/> and <see cref="Disable"/> turn it off for a whole backward pass (2-5 times slower).
/// </summary>
public static class OneDnn
{
    static readonly Lazy<(IntPtr Context, IntPtr Get, IntPtr Set)> Entry = new(FindEntry);

    /// <summary>Whether libtorch may use oneDNN kernels (its default: yes).</summary>
    public static unsafe bool Enabled
    {
        get
        {
            var (context, get, _) = Entry.Value;
            return ((delegate* unmanaged<IntPtr, byte>)get)(context) != 0;
        }
        set
        {
            var (context, _, set) = Entry.Value;
            ((delegate* unmanaged<IntPtr, byte, void>)set)(context, value ? (byte)1 : (byte)0);
        }
    }

    /// <summary>Turns oneDNN off until the returned scope is disposed, then restores what it was.</summary>
    public static IDisposable Disable()
    {
        bool previous = Enabled;
        Enabled = false;
        return new Restore(previous);
    }

    /// <summary>Until disposed, the backward of <paramref name="model"/>'s strided 1×1 convolutions runs with oneDNN off, the rest with it on.</summary>
    public static OneDnnBackwardGuard GuardBackward(TorchSharp.torch.nn.Module model) => new(model);

    /// <summary>Runs a backward pass with oneDNN off (see the type's summary for why).</summary>
    public static void Backward(TorchSharp.torch.Tensor loss)
    {
        using var _ = Disable();
        loss.backward();
    }

    sealed class Restore(bool previous) : IDisposable
    {
        bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            Enabled = previous;
        }
    }

    static unsafe (IntPtr, IntPtr, IntPtr) FindEntry()
    {
        var (context, handle) = LibtorchContext.Open("switch oneDNN");
        return (context, NativeLibrary.GetExport(handle, "_ZNK2at7Context17userEnabledMkldnnEv"), NativeLibrary.GetExport(handle, "_ZN2at7Context20setUserEnabledMkldnnEb"));
    }
}
