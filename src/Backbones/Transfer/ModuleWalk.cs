using Backbones.Serialization;
using TorchSharp;
using static TorchSharp.torch;
using TorchSharp.Modules;

namespace Backbones.Transfer;

/// <summary>
/// Walks a module tree in PyTorch's orders (modules pre-order, parameters in state-dict order), and matches names
/// against the glob patterns that freezing and parameter groups share.
/// </summary>
internal static class ModuleWalk
{
    /// <summary>Every module with its dotted path, parents before children (<c>named_modules()</c>'s order; the root is "").</summary>
    public static IEnumerable<(string Path, nn.Module Module)> Modules(nn.Module root, string path = "")
    {
        yield return (path, root);
        foreach (var (name, child) in root.named_children())
            foreach (var item in Modules(child, Join(path, name)))
                yield return item;
    }

    /// <summary>Every parameter with its state-dict key, in state-dict order (a module's own, then its children's).</summary>
    public static IEnumerable<(string Name, Parameter Parameter)> Parameters(nn.Module root, string path = "") =>
        Modules(root, path).SelectMany(m => m.Module.named_parameters(recurse: false).Select(p => (Join(m.Path, p.name), p.parameter)));

    public static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";

    /// <summary>How deep a module path lies: the root "" is 0, its children 1, <c>layer1.0</c> 2.</summary>
    public static int Depth(string path) => path.Length == 0 ? 0 : path.Count(c => c == '.') + 1;

    /// <summary>Whether <paramref name="name"/> is the module path <paramref name="path"/> or lies under it.</summary>
    public static bool IsUnder(string name, string path) =>
        path.Length == 0 || name == path || (name.StartsWith(path, StringComparison.Ordinal) && name.Length > path.Length && name[path.Length] == '.');

    /// <summary>
    /// A glob (<c>*</c> any characters, dots included; <c>?</c> one) matching a name in full or any of its module
    /// prefixes, so <c>layer1</c>, <c>layer1.*</c> and <c>layer1.0.conv1.weight</c> all take that weight.
    /// </summary>
    public static Func<string, bool> Glob(string glob)
    {
        if (string.IsNullOrWhiteSpace(glob)) throw new ArgumentException("a name pattern is empty", nameof(glob));
        var regex = StateDict.GlobToRegex(glob);
        return name =>
        {
            if (regex.IsMatch(name)) return true;
            for (int dot = name.LastIndexOf('.'); dot > 0; dot = name.LastIndexOf('.', dot - 1))
                if (regex.IsMatch(name[..dot])) return true;
            return false;
        };
    }

    /// <summary>The model's top-level module names, for error messages.</summary>
    public static string TopLevel(nn.Module model) => string.Join(", ", model.named_children().Select(c => c.name));
}
