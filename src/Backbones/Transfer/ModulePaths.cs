using System.Collections;
using System.Reflection;
using Backbones.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Transfer;

/// <summary>
/// Module paths of a model (<c>layer4.0.conv2</c>, <c>features.0.0</c>): finding and resolving them with errors that
/// say what exists, the top-level children a forward passes through to reach them, and swapping or inserting
/// children in place so every reference to the containers (fields, hooks, optimisers' parameters) stays valid.
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

    /// <summary>The module at <paramref name="path"/> ("" is the root), or an error naming the first missing part.</summary>
    public static nn.Module Find(nn.Module root, string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var module = root;
        string walked = "";
        foreach (var part in path.Length == 0 ? [] : path.Split('.'))
        {
            var child = module.named_children().FirstOrDefault(c => c.name == part).module;
            if (child is null)
            {
                string children = string.Join(", ", module.named_children().Select(c => c.name));
                throw new ArgumentException($"no module '{path}' in {root.GetName()}: '{(walked.Length == 0 ? "(root)" : walked)}' has no child '{part}' "
                    + $"(its children: {(children.Length == 0 ? "none" : children)})", nameof(path));
            }
            module = child;
            walked = walked.Length == 0 ? part : walked + "." + part;
        }
        return module;
    }

    /// <summary>The container of <paramref name="path"/> and the last part of the path (the child's name there).</summary>
    public static (nn.Module Parent, string ParentPath, string Name) Parent(nn.Module root, string path)
    {
        if (string.IsNullOrEmpty(path)) throw new ArgumentException("the root has no parent; give the path of a submodule", nameof(path));
        Find(root, path); // the error names the whole path
        int dot = path.LastIndexOf('.');
        string parentPath = dot < 0 ? "" : path[..dot];
        return (Find(root, parentPath), parentPath, path[(dot + 1)..]);
    }

    public static void CheckName(nn.Module container, string containerPath, string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"'{name}' is not a module name: it must be non-empty and without '.'", nameof(name));
        if (container.named_children().Any(c => c.name == name))
            throw new ArgumentException($"'{(containerPath.Length == 0 ? "(root)" : containerPath)}' already has a child named '{name}'", nameof(name));
    }

    /// <summary>
    /// Puts <paramref name="replacement"/> where child <paramref name="name"/> of <paramref name="parent"/> was: in a
    /// Sequential's list, or in a custom module's registration and every field (or array/list slot) that held the old
    /// child, since that is what its forward calls. Nothing changes when a field cannot hold the replacement.
    /// </summary>
    public static nn.Module ReplaceChild(nn.Module parent, string parentPath, string name, nn.Module replacement)
    {
        var old = parent.named_children().First(c => c.name == name).module;
        if (parent is Sequential sequential)
        {
            if (replacement is not nn.IModule<Tensor, Tensor> step)
                throw new ArgumentException($"'{Join(parentPath, name)}' is in a Sequential, which needs a module from tensor to tensor; {replacement.GetType().Name} is not one");
            var (modules, names) = ChildModules.SequentialLists(sequential, Join(parentPath, name));
            FollowMode(replacement, parent);
            modules[names.IndexOf(name)] = step;
            return old;
        }

        var slots = FieldSlots(parent, old).ToList();
        if (slots.Count == 0)
            throw new InvalidOperationException($"{parent.GetType().Name} ('{(parentPath.Length == 0 ? "(root)" : parentPath)}') registers '{name}' but keeps no field "
                + "holding it, so its forward would still run the old module; replace the container instead");
        foreach (var slot in slots)
            if (!slot.Type.IsInstanceOfType(replacement))
                throw new ArgumentException($"'{Join(parentPath, name)}' is held by {parent.GetType().Name}.{slot.Field.Name}, typed {slot.Type.Name}; "
                    + $"a {replacement.GetType().Name} cannot take its place (replace it with a {slot.Type.Name}, or replace the container)");
        ChildModules.Replace(parent, name, replacement);
        foreach (var slot in slots) slot.Set(replacement);
        return old;
    }

    /// <summary>Inserts <paramref name="module"/> as <paramref name="name"/> at <paramref name="index"/> of a Sequential.</summary>
    public static void Insert(Sequential sequential, int index, string name, nn.Module<Tensor, Tensor> module)
    {
        var (modules, names) = ChildModules.SequentialLists(sequential, name);
        if (index < 0 || index > modules.Count) throw new ArgumentOutOfRangeException(nameof(index));
        FollowMode(module, sequential);
        modules.Insert(index, module);
        names.Insert(index, name);
    }

    public static string Join(string parentPath, string name) => parentPath.Length == 0 ? name : parentPath + "." + name;

    public static long CountParameters(nn.Module module) => module.parameters().Sum(p => p.NumberOfElements);

    /// <summary>A module placed into a model takes the mode of its new container (the project's convention for fresh heads).</summary>
    static void FollowMode(nn.Module module, nn.Module container)
    {
        if (module.training != container.training) module.train(container.training);
    }

    sealed record Slot(FieldInfo Field, Type Type, Action<object> Set);

    /// <summary>Every field of <paramref name="owner"/> (its own, or an array or list slot in one) holding <paramref name="child"/>.</summary>
    static IEnumerable<Slot> FieldSlots(nn.Module owner, nn.Module child)
    {
        for (var type = owner.GetType(); type is not null && type != typeof(nn.Module); type = type.BaseType)
        {
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                var value = field.GetValue(owner);
                if (ReferenceEquals(value, child)) yield return new Slot(field, field.FieldType, v => field.SetValue(owner, v));
                else if (value is Array array && !array.GetType().GetElementType()!.IsValueType)
                {
                    for (int i = 0; i < array.Length; i++)
                    {
                        int at = i;
                        if (ReferenceEquals(array.GetValue(i), child)) yield return new Slot(field, array.GetType().GetElementType()!, v => array.SetValue(v, at));
                    }
                }
                else if (value is IList list and not Array && field.FieldType.IsGenericType)
                {
                    var element = field.FieldType.GetGenericArguments()[0];
                    for (int i = 0; i < list.Count; i++)
                    {
                        int at = i;
                        if (ReferenceEquals(list[i], child)) yield return new Slot(field, element, v => list[at] = v);
                    }
                }
            }
        }
    }
}
