using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Transfer;

/// <summary>
/// Module paths of a model (<c>layer3.2.conv1</c>): resolving them to hookable modules with errors that say what exists,
/// and the top-level children a forward passes through to reach them.
/// </summary>
internal static class ModulePaths
{
    /// <summary>Each path's module, which must map a tensor to a tensor (so a forward hook sees its output).</summary>
    public static IReadOnlyList<(string Path, nn.Module<Tensor, Tensor> Module)> Resolve(nn.Module model, IReadOnlyList<string> paths)
    {
        var modules = new Dictionary<string, nn.Module>(StringComparer.Ordinal);
        foreach (var (name, module) in model.named_modules()) modules.TryAdd(name, module);
        var resolved = new List<(string, nn.Module<Tensor, Tensor>)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            if (string.IsNullOrEmpty(path) || !modules.TryGetValue(path, out var module))
                throw new ArgumentException($"no module '{path}' with a tensor output in {NameOf(model)}; {WhatExists(model, path)}");
            if (module is not nn.Module<Tensor, Tensor> hookable)
                throw new ArgumentException($"module '{path}' of {NameOf(model)} is a {module.GetType().Name}, whose output is not a single tensor");
            if (!seen.Add(path)) throw new ArgumentException($"module '{path}' requested twice");
            resolved.Add((path, hookable));
        }
        return resolved;
    }

    /// <summary>
    /// The model's top-level children in registration order, up to the last one holding any of <paramref name="paths"/>
    /// (torchvision's IntermediateLayerGetter rule): what a forward that stops there can use.
    /// </summary>
    public static IReadOnlyList<(string Name, nn.Module Module)> ChildrenThrough(nn.Module model, IEnumerable<string> paths)
    {
        var children = model.named_children().ToList();
        int last = paths.Max(p => children.FindIndex(c => p == c.name || p.StartsWith(c.name + ".", StringComparison.Ordinal)));
        return children.Take(last + 1).ToList();
    }

    public static string NameOf(nn.Module model) =>
        model is Models.Backbone { Architecture: { Length: > 0 } architecture } ? architecture : model.GetName();

    /// <summary>The children of the deepest existing prefix of <paramref name="path"/>.</summary>
    static string WhatExists(nn.Module model, string path)
    {
        string prefix = "";
        var parent = model;
        foreach (var part in (path ?? "").Split('.'))
        {
            var child = parent.named_children().FirstOrDefault(c => c.name == part).module;
            if (child is null) break;
            parent = child;
            prefix = prefix.Length == 0 ? part : prefix + "." + part;
        }
        var names = parent.named_children().Select(c => c.name).ToList();
        string where = prefix.Length == 0 ? "top-level modules" : $"modules under '{prefix}'";
        return names.Count == 0 ? $"'{prefix}' has no children" : $"{where}: {string.Join(", ", names)}";
    }
}
