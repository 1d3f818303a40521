using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Models;

/// <summary>
/// Replaces a registered child module (a classifier), which TorchSharp's <c>register_module</c> refuses for an
/// existing name and its Sequential cannot do at all, keeping every other child and the children's order.
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
    /// <paramref name="parent"/> as <paramref name="childName"/> (VGG's <c>classifier.6</c>): registers a new Sequential
    /// holding the same other children, disposes the replaced child and returns the new Sequential for the parent's field.
    /// </summary>
    public static Sequential ReplaceInSequential(nn.Module parent, string childName, Sequential old, int index, nn.Module<Tensor, Tensor> replacement)
    {
        var children = old.named_children().ToList();
        if (index < 0 || index >= children.Count) throw new ArgumentOutOfRangeException(nameof(index));
        var replaced = children[index].module;
        var fresh = nn.Sequential(children.Select((c, i) => (c.name, i == index ? replacement : (nn.Module<Tensor, Tensor>)c.module)));
        Replace(parent, childName, fresh);
        // The old Sequential is left to the collector, not disposed: disposing it would dispose the children it shares.
        replaced.Dispose();
        return fresh;
    }
}
