using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Transfer;

/// <summary>
/// Records the outputs of named modules (<c>layer3</c>, <c>features.denseblock2</c>) during forwards, through
/// forward hooks; dispose to remove the hooks and the recorded tensors.
/// </summary>
public sealed class FeatureCapture : IDisposable
{
    readonly List<Action> _removeHooks = new();
    readonly Dictionary<string, Tensor> _outputs = new(StringComparer.Ordinal);

    FeatureCapture() { }

    /// <summary>The latest output of each module, by path, in the order the paths were given.</summary>
    public IReadOnlyDictionary<string, Tensor> Outputs => _outputs;

    public static FeatureCapture Attach(nn.Module model, IEnumerable<string> paths)
    {
        var capture = new FeatureCapture();
        foreach (var (path, module) in ModulePaths.Resolve(model, paths.ToList()))
        {
            var hook = module.register_forward_hook((_, _, output) =>
            {
                if (capture._outputs.Remove(path, out var previous)) previous.Dispose();
                capture._outputs[path] = output.detach().clone().DetachFromDisposeScope();
                return null!; // TorchSharp: a null result keeps the module's own output
            });
            capture._removeHooks.Add(hook.remove);
        }
        return capture;
    }

    public void Dispose()
    {
        foreach (var remove in _removeHooks) remove();
        foreach (var t in _outputs.Values) t.Dispose();
        _outputs.Clear();
    }
}
