using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Transfer;

/// <summary>
/// A module's parameters and persistent buffers in PyTorch's state-dict order: each module's own parameters,
/// then its own buffers, then its children in registration order. (TorchSharp's state_dict lists every
/// parameter of the tree before any buffer.)
/// </summary>
public static class ModuleState
{
    public static IReadOnlyList<KeyValuePair<string, Tensor>> OrderedStateDict(this nn.Module module)
    {
        var entries = new List<KeyValuePair<string, Tensor>>();
        Collect(module, "", entries);
        return entries;
    }

    static void Collect(nn.Module module, string prefix, List<KeyValuePair<string, Tensor>> into)
    {
        foreach (var (name, p) in module.named_parameters(recurse: false)) into.Add(new(prefix + name, p));
        foreach (var (name, b) in module.named_buffers(recurse: false, include_nonpersistent: false)) into.Add(new(prefix + name, b));
        foreach (var (name, child) in module.named_children()) Collect(child, prefix + name + ".", into);
    }
}
