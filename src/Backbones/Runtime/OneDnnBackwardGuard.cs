using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Runtime;

/// <summary>
/// Runs the backward pass of a model's strided 1×1 convolutions with oneDNN off and every other backward with it on:
/// only those crash libtorch 2.10's oneDNN on machines that hide their cache sizes (see <see cref="OneDnn"/>), and
/// switching oneDNN off for the whole backward makes it 2-5 times slower.
/// </summary>
/// <remarks>
/// Forward hooks wrap each such convolution between two <see cref="OneDnnSwitch"/> identities: the one on its output
/// switches oneDNN off when the backward reaches it, the one on its input restores what was set when the forward ran.
/// The hooks act only where autograd records (grad enabled, a tensor that requires grad). Measured on this project's
/// 2-core VM, with the guard every zoo family trains with oneDNN on (ResNet-50, ResNeXt and Wide ResNet crash without it).
/// </remarks>
public sealed class OneDnnBackwardGuard : IDisposable
{
    readonly List<Action> _removeHooks = [];

    public OneDnnBackwardGuard(nn.Module model)
    {
        var guarded = new List<string>();
        foreach (var (path, module) in model.named_modules())
        {
            if (module is not Conv2d conv || conv.kernel_size.Any(k => k != 1) || conv.stride.All(s => s == 1)) continue;
            guarded.Add(path);
            _removeHooks.Add(conv.register_forward_pre_hook((_, x) => Records(x) ? OneDnnSwitch.apply(x, OneDnn.Enabled) : x).remove);
            _removeHooks.Add(conv.register_forward_hook((_, _, y) => Records(y) ? OneDnnSwitch.apply(y, false) : y).remove);
        }
        GuardedModules = guarded;
    }

    /// <summary>Module paths of the convolutions whose backward runs with oneDNN off.</summary>
    public IReadOnlyList<string> GuardedModules { get; }

    static bool Records(Tensor x) => x.requires_grad && is_grad_enabled();

    public void Dispose()
    {
        foreach (var remove in _removeHooks) remove();
        _removeHooks.Clear();
    }

    public override string ToString() => $"oneDNN off in the backward of {GuardedModules.Count} strided 1×1 convolution(s): {string.Join(", ", GuardedModules)}";
}
