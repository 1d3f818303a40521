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
        var modules = model.named_modules().ToDictionary(m => m.name, m => m.module);
        var capture = new FeatureCapture();
        foreach (var path in paths)
        {
            if (!modules.TryGetValue(path, out var module) || module is not nn.Module<Tensor, Tensor> hookable)
            {
                capture.Dispose();
                var top = model.named_children().Select(c => c.name);
                throw new ArgumentException($"no module '{path}' with a tensor output in {model.GetName()}; top-level modules: {string.Join(", ", top)}");
            }
            var hook = hookable.register_forward_hook((_, _, output) =>
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
