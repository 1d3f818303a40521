using System.Text.Json;
using Backbones.Models;
using Backbones.Models.Layers;
using TorchSharp.Modules;

namespace Backbones.Tests.Support;

/// <summary>
/// Dropout and stochastic-depth probabilities per module, ours against torchvision's (tests/reference/regularization.py).
/// Both are the identity in eval mode, so output parity cannot see a wrong probability; this compares the settings.
/// </summary>
public static class Regularization
{
    /// <summary>
    /// One line per Dropout (<c>path dropout p</c>) and StochasticDepth (<c>path row p</c>), in PyTorch's named_modules()
    /// order (depth-first; TorchSharp's lists a module's children before their descendants).
    /// </summary>
    public static IReadOnlyList<string> Of(Backbone model) =>
        PreOrder(model, "").Select(m => m.Module switch
        {
            Dropout d => Line(m.Path, "dropout", d.p),
            StochasticDepth s => Line(m.Path, s.DropMode.ToString().ToLowerInvariant(), s.P),
            _ => null,
        }).OfType<string>().ToList();

    static IEnumerable<(string Path, TorchSharp.torch.nn.Module Module)> PreOrder(TorchSharp.torch.nn.Module module, string path)
    {
        yield return (path, module);
        foreach (var (name, child) in module.named_children())
            foreach (var item in PreOrder(child, path.Length == 0 ? name : $"{path}.{name}"))
                yield return item;
    }

    /// <summary>The same lines for torchvision's builds of <paramref name="models"/>.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Torchvision(IEnumerable<string> models, string kwargsJson = "{}")
    {
        var (code, output, error) = PyTorch.RunScript("regularization.py", [.. models, "--kwargs", kwargsJson]);
        Assert.True(code == 0, output + error);
        using var doc = JsonDocument.Parse(output);
        var result = new Dictionary<string, IReadOnlyList<string>>();
        foreach (var model in doc.RootElement.EnumerateObject())
            result[model.Name] = model.Value.EnumerateArray().Select(e => Line(e[0].GetString()!, e[1].GetString()!, e[2].GetDouble())).ToList();
        return result;
    }

    // "R" round-trips the double: torchvision's 0.2 * 3 / 16 and ours must be the same number, not merely close.
    static string Line(string path, string kind, double p) => $"{path} {kind} {p.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}";
}
