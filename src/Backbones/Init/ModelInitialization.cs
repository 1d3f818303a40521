using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Init;

/// <summary>
/// Applies an <see cref="InitPolicy"/> to a model or part of it (<c>model.Initialize(policy)</c>), visiting modules in
/// PyTorch's named_modules() order (depth first, each shared module once), and reports what it did.
/// </summary>
public static class ModelInitialization
{
    public static InitReport Initialize(this nn.Module model, InitPolicy policy, InitOptions? options = null)
    {
        options ??= new InitOptions();
        var modules = PreOrder(model, "", new HashSet<nn.Module>(ReferenceEqualityComparer.Instance)).ToList();
        var only = options.Only?.ToHashSet(StringComparer.Ordinal);
        if (only is not null) CheckNames(model, modules, only);
        var skip = options.Skip?.ToHashSet(StringComparer.Ordinal) ?? [];

        var initialised = new List<(string, string, string)>();
        var kept = new List<(string, string)>();
        var skipped = new List<string>();
        using var _ = no_grad();
        foreach (var (path, module) in modules)
        {
            if (options.Where is not null && !options.Where(path, module)) continue;
            var rule = policy.RuleFor(module);
            var own = module.named_parameters(recurse: false).ToList();
            var weight = own.FirstOrDefault(p => p.name == "weight").parameter;
            foreach (var (name, parameter) in own)
            {
                string key = path.Length == 0 ? name : $"{path}.{name}";
                if (only is not null && !Selected(path, key, only)) continue;
                if (skip.Contains(key)) { skipped.Add(key); continue; }
                var scheme = rule is null ? null : name switch { "weight" => rule.Value.Weight, "bias" => rule.Value.Bias, _ => null };
                if (scheme is null)
                {
                    kept.Add((key, rule is null ? $"{module.GetType().Name}: not a convolution, linear or normalisation layer" : $"no {rule.Value.Kind} {name} scheme"));
                    continue;
                }
                scheme.Fill(parameter, weight, options.Generator);
                initialised.Add((key, module.GetType().Name, scheme.Name));
            }
        }
        return new InitReport(policy.Name, initialised, kept, skipped);
    }

    /// <summary>Initialises only the given module paths or parameter keys.</summary>
    public static InitReport Initialize(this nn.Module model, InitPolicy policy, IEnumerable<string> only, Generator? generator = null) =>
        model.Initialize(policy, new InitOptions { Only = only, Generator = generator });

    /// <summary>Initialises what a non-strict load left as constructed (its missing and shape-mismatched keys): the new layers.</summary>
    public static InitReport InitializeNotLoaded(this nn.Module model, InitPolicy policy, LoadReport load, Generator? generator = null) =>
        model.Initialize(policy, new InitOptions { Only = load.Missing.Concat(load.Mismatched.Select(m => m.Key)), Generator = generator });

    static bool Selected(string path, string key, HashSet<string> only)
    {
        if (only.Contains(key) || only.Contains("")) return true;
        for (string p = path; p.Length > 0; p = p.Contains('.') ? p[..p.LastIndexOf('.')] : "")
            if (only.Contains(p)) return true;
        return false;
    }

    static void CheckNames(nn.Module model, List<(string Path, nn.Module Module)> modules, HashSet<string> only)
    {
        var known = modules.Select(m => m.Path).ToHashSet(StringComparer.Ordinal);
        known.UnionWith(model.state_dict().Keys);
        var unknown = only.Where(n => !known.Contains(n)).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"no module or state-dict key {string.Join(", ", unknown.Select(n => $"'{n}'"))} in {model.GetName()}; "
                + $"top-level modules: {string.Join(", ", model.named_children().Select(c => c.name))}");
    }

    /// <summary>The module and its descendants depth first, as PyTorch's named_modules(); TorchSharp's lists children before grandchildren.</summary>
    internal static IEnumerable<(string Path, nn.Module Module)> PreOrder(nn.Module module, string path, HashSet<nn.Module> seen)
    {
        if (!seen.Add(module)) yield break;
        yield return (path, module);
        foreach (var (name, child) in module.named_children())
            foreach (var item in PreOrder(child, path.Length == 0 ? name : $"{path}.{name}", seen))
                yield return item;
    }
}
