using System.Text.RegularExpressions;
using Backbones.Models;
using TorchSharp;
using static TorchSharp.torch;
using TorchSharp.Modules;

namespace Backbones.Transfer;

/// <summary>
/// Freezes and unfreezes parameters as PyTorch recipes do (<c>requires_grad = False</c>): by name pattern, by the
/// first top-level children, everything but the head, or everything registered before a stage. Each call reports.
/// </summary>
/// <remarks>
/// Globs match a parameter's key or any of its module prefixes (<c>layer1</c> takes <c>layer1.0.conv1.weight</c>);
/// a regular expression is searched in the key. A pattern that matches nothing is an error, as a typo would be.
/// With <c>batchNormStatistics</c>, the BatchNorms whose parameters the call froze are also held in eval mode
/// (<see cref="BatchNormFreezing"/>); Unfreeze releases the held BatchNorms whose parameters it unfroze.
/// </remarks>
public static class Freezing
{
    public static FreezeReport Freeze(this nn.Module model, params string[] patterns) =>
        ByPatterns(model, patterns, trainable: false);

    public static FreezeReport Freeze(this nn.Module model, Regex pattern) =>
        ByRegex(model, pattern, trainable: false);

    public static FreezeReport Unfreeze(this nn.Module model, params string[] patterns) =>
        ByPatterns(model, patterns, trainable: true);

    public static FreezeReport Unfreeze(this nn.Module model, Regex pattern) =>
        ByRegex(model, pattern, trainable: true);

    /// <summary>Freezes the parameters of the first <paramref name="count"/> top-level children, in registration order.</summary>
    public static FreezeReport FreezeFirstChildren(this nn.Module model, int count, bool batchNormStatistics = false)
    {
        var children = model.named_children().Select(c => c.name).ToList();
        if (count < 0 || count > children.Count)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"{model.GetName()} has {children.Count} top-level children: {string.Join(", ", children)}");
        var first = children.Take(count).ToList();
        return Set(model, $"FreezeFirstChildren({count}: {string.Join(", ", first)})",
            name => first.Any(c => ModuleWalk.IsUnder(name, c)), trainable: false, batchNormStatistics);
    }

    /// <summary>
    /// Freezes the first <paramref name="count"/> parameter tensors in <c>model.parameters()</c> order, the recipe
    /// <c>for i, p in enumerate(model.parameters()): p.requires_grad = i >= count</c>.
    /// </summary>
    public static FreezeReport FreezeFirstParameters(this nn.Module model, int count, bool batchNormStatistics = false)
    {
        var names = ModuleWalk.Parameters(model).Select(p => p.Name).ToList();
        if (count < 0 || count > names.Count)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"{model.GetName()} has {names.Count} parameter tensors");
        var first = names.Take(count).ToHashSet(StringComparer.Ordinal);
        string last = count == 0 ? "none" : $"through {names[count - 1]}";
        return Set(model, $"FreezeFirstParameters({count}, {last})", first.Contains, trainable: false, batchNormStatistics);
    }

    /// <summary>
    /// Freezes everything but the head: a zoo model's <see cref="Backbone.ClassifierPath"/> (<c>fc</c>,
    /// <c>classifier.6</c>), or for any other module its last top-level child that has parameters.
    /// </summary>
    public static FreezeReport FreezeAllButHead(this nn.Module model, bool batchNormStatistics = false)
    {
        string head = HeadPath(model);
        return Set(model, $"FreezeAllButHead(head {head})", name => !ModuleWalk.IsUnder(name, head), trainable: false, batchNormStatistics);
    }

    /// <summary>
    /// Freezes every parameter registered before module <paramref name="modulePath"/> (<c>layer3</c>,
    /// <c>features.4</c>) in state-dict order; the module itself and all after it stay as they are.
    /// </summary>
    public static FreezeReport FreezeUntil(this nn.Module model, string modulePath, bool batchNormStatistics = false)
    {
        var before = new HashSet<string>(StringComparer.Ordinal);
        bool found = false;
        foreach (var (path, module) in ModuleWalk.Modules(model))
        {
            if (path == modulePath && path.Length > 0) { found = true; break; }
            foreach (var (name, _) in module.named_parameters(recurse: false)) before.Add(ModuleWalk.Join(path, name));
        }
        if (!found) throw new ArgumentException($"FreezeUntil: no module '{modulePath}' in {model.GetName()}; top-level modules: {ModuleWalk.TopLevel(model)}", nameof(modulePath));
        return Set(model, $"FreezeUntil({modulePath})", before.Contains, trainable: false, batchNormStatistics);
    }

    /// <summary>The head <see cref="FreezeAllButHead"/> keeps trainable.</summary>
    internal static string HeadPath(nn.Module model)
    {
        if (model is Backbone backbone) return backbone.ClassifierPath;
        var last = model.named_children().LastOrDefault(c => c.module.parameters().Any());
        return last.name ?? throw new ArgumentException($"{model.GetName()} has no child with parameters to keep as the head");
    }

    static FreezeReport ByPatterns(nn.Module model, string[] patterns, bool trainable)
    {
        string operation = $"{(trainable ? "Unfreeze" : "Freeze")}({string.Join(", ", patterns)})";
        if (patterns.Length == 0) throw new ArgumentException($"{operation}: give at least one pattern (\"*\" for every parameter)", nameof(patterns));
        var matchers = patterns.Select(ModuleWalk.Glob).ToList();
        var names = ModuleWalk.Parameters(model).Select(p => p.Name).ToList();
        for (int i = 0; i < patterns.Length; i++)
            if (!names.Any(matchers[i])) throw NoMatch(model, operation, $"'{patterns[i]}'");
        return Set(model, operation, name => matchers.Any(m => m(name)), trainable, batchNormStatistics: false);
    }

    static FreezeReport ByRegex(nn.Module model, Regex pattern, bool trainable)
    {
        string operation = $"{(trainable ? "Unfreeze" : "Freeze")}(/{pattern}/)";
        if (!ModuleWalk.Parameters(model).Any(p => pattern.IsMatch(p.Name))) throw NoMatch(model, operation, $"/{pattern}/");
        return Set(model, operation, pattern.IsMatch, trainable, batchNormStatistics: false);
    }

    static ArgumentException NoMatch(nn.Module model, string operation, string pattern) =>
        new($"{operation}: {pattern} matches no parameter of {model.GetName()}; top-level modules: {ModuleWalk.TopLevel(model)}");

    static FreezeReport Set(nn.Module model, string operation, Func<string, bool> selects, bool trainable, bool batchNormStatistics)
    {
        var changed = new List<string>();
        var unchanged = new List<string>();
        foreach (var (name, p) in ModuleWalk.Parameters(model))
        {
            if (!selects(name)) continue;
            if (p.requires_grad == trainable) { unchanged.Add(name); continue; }
            p.requires_grad = trainable;
            changed.Add(name);
        }

        // BatchNorms follow their parameters: held when all of them are frozen by this call, released when any is unfrozen.
        var norms = new List<string>();
        var unfrozen = trainable ? changed.ToHashSet(StringComparer.Ordinal) : [];
        if (batchNormStatistics || trainable)
        {
            foreach (var (path, module) in ModuleWalk.Modules(model))
            {
                if (module is not BatchNorm bn) continue;
                var keys = bn.named_parameters(recurse: false).Select(p => ModuleWalk.Join(path, p.name)).ToList();
                if (keys.Count == 0) continue;
                if (trainable ? keys.Any(unfrozen.Contains) && BatchNormFreezing.Release(bn, path, model.training) is not null
                              : keys.All(selects) && BatchNormFreezing.Hold(bn, path) is not null)
                    norms.Add(path);
            }
        }
        return trainable
            ? new(operation, [], changed, unchanged, [], norms, TrainableSummary.Of(model))
            : new(operation, changed, [], unchanged, norms, [], TrainableSummary.Of(model));
    }
}
