using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;
using TorchSharp.Modules;

namespace Backbones.Transfer;

/// <summary>
/// Freezes BatchNorm layers in place: running statistics never updated, affine weight and bias not trained, and
/// eval-mode normalisation even after a later <c>model.train()</c>, which TorchSharp propagates to every child.
/// </summary>
/// <remarks>
/// A held BatchNorm gets a forward pre-hook that switches it back to eval mode before each call, so the model's
/// modules, fields and state-dict keys (num_batches_tracked included) stay what they were. torchvision's alternative,
/// swapping in a FrozenBatchNorm2d, cannot work generically here: a family's forward calls the BatchNorm through its
/// own field (ResNet's <c>bn1</c>), which a re-registered child would not replace.
/// </remarks>
public static class BatchNormFreezing
{
    // Which BatchNorms are held, and how to release them: state attached to modules this library does not own.
    // Weak keys, so a disposed and collected model leaves nothing behind.
    static readonly ConditionalWeakTable<nn.Module, Action> Held = new();

    /// <summary>
    /// Holds the BatchNorms whose module path (or an ancestor's) matches one of <paramref name="patterns"/>
    /// (globs, e.g. <c>layer1</c>, <c>features.*</c>); with no pattern, every BatchNorm of the model.
    /// </summary>
    public static FreezeReport FreezeBatchNorm(this nn.Module model, params string[] patterns) =>
        Apply(model, patterns, hold: true);

    /// <summary>Releases held BatchNorms matching <paramref name="patterns"/> (all with none): trainable again, in the model's mode.</summary>
    public static FreezeReport UnfreezeBatchNorm(this nn.Module model, params string[] patterns) =>
        Apply(model, patterns, hold: false);

    internal static bool IsHeld(nn.Module module) => Held.TryGetValue(module, out _);

    /// <summary>Holds one BatchNorm; returns its parameters that were trainable, or null if it was held already.</summary>
    internal static List<string>? Hold(BatchNorm bn, string path)
    {
        if (IsHeld(bn)) return null;
        var frozen = new List<string>();
        foreach (var (name, p) in bn.named_parameters(recurse: false))
        {
            if (p.requires_grad) frozen.Add(ModuleWalk.Join(path, name));
            p.requires_grad = false;
        }
        var hook = bn.register_forward_pre_hook(m => { if (m.training) m.eval(); });
        Held.Add(bn, hook.remove);
        bn.eval();
        return frozen;
    }

    /// <summary>Releases one BatchNorm into <paramref name="training"/> mode; returns its parameters made trainable, or null if it was not held.</summary>
    internal static List<string>? Release(BatchNorm bn, string path, bool training)
    {
        if (!Held.TryGetValue(bn, out var removeHook)) return null;
        removeHook();
        Held.Remove(bn);
        var unfrozen = new List<string>();
        foreach (var (name, p) in bn.named_parameters(recurse: false))
        {
            if (!p.requires_grad) unfrozen.Add(ModuleWalk.Join(path, name));
            p.requires_grad = true;
        }
        bn.train(training);
        return unfrozen;
    }

    static FreezeReport Apply(nn.Module model, string[] patterns, bool hold)
    {
        var norms = ModuleWalk.Modules(model).Where(m => m.Module is BatchNorm).Select(m => (m.Path, Norm: (BatchNorm)m.Module)).ToList();
        string operation = $"{(hold ? "FreezeBatchNorm" : "UnfreezeBatchNorm")}({string.Join(", ", patterns)})";
        if (norms.Count == 0) throw new ArgumentException($"{operation}: {model.GetName()} has no BatchNorm layer");
        var matchers = patterns.Select(p => (Pattern: p, Matches: ModuleWalk.Glob(p))).ToList();
        foreach (var (pattern, matches) in matchers)
            if (!norms.Any(n => matches(n.Path)))
                throw new ArgumentException($"{operation}: '{pattern}' matches no BatchNorm of {model.GetName()}; top-level modules: {ModuleWalk.TopLevel(model)}");

        var changedParameters = new List<string>();
        var changedNorms = new List<string>();
        var unchanged = new List<string>();
        foreach (var (path, bn) in norms.Where(n => matchers.Count == 0 || matchers.Any(m => m.Matches(n.Path))))
        {
            var changed = hold ? Hold(bn, path) : Release(bn, path, model.training);
            if (changed is null)
            {
                unchanged.AddRange(bn.named_parameters(recurse: false).Select(p => ModuleWalk.Join(path, p.name)));
                continue;
            }
            changedParameters.AddRange(changed);
            changedNorms.Add(path);
        }
        return hold
            ? new(operation, changedParameters, [], unchanged, changedNorms, [], TrainableSummary.Of(model))
            : new(operation, [], changedParameters, unchanged, [], changedNorms, TrainableSummary.Of(model));
    }
}
