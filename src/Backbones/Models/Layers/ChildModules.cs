using System.Reflection;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Models;

/// <summary>
/// Replaces a registered child module (a classifier), which TorchSharp's <c>register_module</c> refuses for an
/// existing name and its Sequential cannot do at all, keeping every other child, its mode and the children's order.
/// </summary>
internal static class ChildModules
{
    /// <summary>
    /// Re-registers <paramref name="childName"/> of <paramref name="parent"/> as <paramref name="module"/> in the old
    /// child's place (order = state-dict order). The caller assigns its field and disposes the old child.
    /// </summary>
    public static void Replace(nn.Module parent, string childName, nn.Module module)
    {
        var children = parent.named_children().ToList();
        int position = children.FindIndex(c => c.name == childName);
        if (position < 0) throw new ArgumentException($"'{childName}' is not a child of {parent.GetName()}", nameof(childName));
        // A fresh module follows the model's train/eval mode (propagating only when it differs).
        if (module.training != parent.training) module.train(parent.training);
        // register_module appends: unregister this child and those after it, then register them again in order.
        foreach (var (name, _) in children.Skip(position)) parent.register_module(name, null!);
        parent.register_module(childName, module);
        foreach (var (name, child) in children.Skip(position + 1)) parent.register_module(name, child);
    }

    /// <summary>
    /// Replaces child <paramref name="index"/> of the Sequential <paramref name="old"/> registered on
    /// <paramref name="parent"/> as <paramref name="childName"/> (VGG's <c>classifier.6</c>) in place, so every other
    /// child keeps its object and its train/eval mode; the replacement takes the Sequential's mode. Disposes the
    /// replaced child and returns the same Sequential.
    /// </summary>
    public static Sequential ReplaceInSequential(nn.Module parent, string childName, Sequential old, int index, nn.Module<Tensor, Tensor> replacement)
    {
        var (modules, _) = SequentialLists(old, $"{parent.GetName()}.{childName}");
        if (index < 0 || index >= modules.Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"{childName} has {modules.Count} children");
        var replaced = (nn.Module)modules[index];
        if (replacement.training != old.training) replacement.train(old.training);
        modules[index] = replacement;
        replaced.Dispose();
        return old;
    }

    // TorchSharp 0.107's Sequential keeps its children in two private lists that its forward, named_children and
    // state_dict read, and offers no way to change them but append; editing them keeps the Sequential's identity.
    static readonly FieldInfo? SequentialModules = typeof(Sequential).GetField("_modules", BindingFlags.Instance | BindingFlags.NonPublic);
    static readonly FieldInfo? SequentialNames = typeof(Sequential).GetField("_names", BindingFlags.Instance | BindingFlags.NonPublic);

    /// <summary>The Sequential's own lists of children and of their names (edit both together).</summary>
    public static (List<nn.IModule<Tensor, Tensor>> Modules, List<string> Names) SequentialLists(Sequential sequential, string what)
    {
        if (SequentialModules?.GetValue(sequential) is not List<nn.IModule<Tensor, Tensor>> modules
            || SequentialNames?.GetValue(sequential) is not List<string> names)
            throw new NotSupportedException($"cannot edit {what}: this TorchSharp's Sequential does not keep its children in the '_modules' and '_names' "
                + "lists that editing a Sequential in place relies on (TorchSharp 0.107 does)");
        return (modules, names);
    }
}
