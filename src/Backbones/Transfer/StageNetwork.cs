using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Transfer;

/// <summary>
/// A network built from parts of a backbone and new modules, run in order: reused stages are the backbone's own
/// module objects (their pretrained tensors are shared, not copied), registered under their path with '.' → '_'
/// (<c>layer4</c> stays <c>layer4</c>, so a checkpoint's keys still fit), followed by new modules under the names given.
/// A Sequential, so the surgery of <see cref="Surgery"/> applies to it too. The reused stages belong to both networks:
/// disposing either disposes them (disposing both is harmless).
/// </summary>
public sealed class StageNetwork : Sequential
{
    // Which children were reused, and from where; the list of steps itself is read from the children, so it stays
    // true after surgery on the network.
    readonly Dictionary<nn.Module, string> _reusedFrom = new(ReferenceEqualityComparer.Instance);

    StageNetwork() : base(Array.Empty<nn.Module<Tensor, Tensor>>()) { }

    /// <summary>A network running <paramref name="paths"/> of <paramref name="source"/> in order (<c>conv1, bn1, ..., layer4</c>).</summary>
    public static StageNetwork From(nn.Module source, params string[] paths)
    {
        var network = new StageNetwork();
        foreach (var path in paths) network.Reuse(source, path);
        return network;
    }

    /// <summary>The steps, in order: each name, the source path it reuses (null for a new module), its type and parameters.</summary>
    public IReadOnlyList<StageStep> Steps => named_children()
        .Select(c => new StageStep(c.name, _reusedFrom.GetValueOrDefault(c.module), Surgery.Describe(c.module), ModulePaths.CountParameters(c.module)))
        .ToList();

    /// <summary>Appends the module at <paramref name="path"/> of <paramref name="source"/> itself (not a copy), named <paramref name="name"/> or after its path.</summary>
    public StageNetwork Reuse(nn.Module source, string path, string? name = null)
    {
        var module = ModulePaths.Find(source, path);
        if (module is not nn.Module<Tensor, Tensor> step)
            throw new ArgumentException($"'{path}' is a {module.GetType().Name}, which does not map a tensor to a tensor", nameof(path));
        if (ReferenceEquals(module, source)) throw new ArgumentException("give the path of a part of the source, not the whole source", nameof(path));
        return Add(name ?? path.Replace('.', '_'), step, path);
    }

    /// <summary>Appends a new module (a neck, dilated blocks, a head) named <paramref name="name"/>.</summary>
    public StageNetwork Then(string name, nn.Module<Tensor, Tensor> module) => Add(name, module, null);

    StageNetwork Add(string name, nn.Module<Tensor, Tensor> module, string? source)
    {
        ArgumentNullException.ThrowIfNull(module);
        ModulePaths.CheckName(this, "", name);
        if (modules().Any(m => ReferenceEquals(m, module)))
            throw new ArgumentException($"'{name}': that module is already in the network (a module runs once; reuse a path once)", nameof(module));
        append(name, module);
        if (source is not null) _reusedFrom[module] = source;
        return this;
    }

    public override string ToString() =>
        $"StageNetwork, {Count} steps, {ModulePaths.CountParameters(this):N0} parameters:\n  " + string.Join("\n  ", Steps);
}

/// <summary>One step of a <see cref="StageNetwork"/>.</summary>
public sealed record StageStep(string Name, string? ReusedFrom, string Module, long Parameters)
{
    public override string ToString() => $"{Name}: {Module}, {Parameters:N0} parameters" + (ReusedFrom is null ? ", new" : $", reused from {ReusedFrom}");
}
