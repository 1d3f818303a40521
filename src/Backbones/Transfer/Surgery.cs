using Backbones.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Transfer;

/// <summary>
/// Edits a built (possibly pretrained) model by module path, as PyTorch recipes do with attribute assignment:
/// replace any module (inside Sequentials too), insert or append modules in Sequentials, give a backbone a new
/// classifier. Every other module, tensor and state-dict key stays as it was; each edit returns what it did.
/// </summary>
public static class Surgery
{
    /// <summary>
    /// Puts <paramref name="replacement"/> at <paramref name="path"/> (<c>fc</c>, <c>layer4.2.conv2</c>,
    /// <c>classifier.6</c>) under the same name, so its keys take the old ones' place in the state dict. The replaced
    /// module is returned in the report and is the caller's to dispose. The new module takes its container's mode.
    /// </summary>
    public static ModuleReplacement ReplaceModule(nn.Module model, string path, nn.Module replacement)
    {
        ArgumentNullException.ThrowIfNull(replacement);
        var (parent, parentPath, name) = ModulePaths.Parent(model, path);
        var old = ModulePaths.Find(model, path);
        if (ReferenceEquals(old, replacement)) throw new ArgumentException($"'{path}' is already that module", nameof(replacement));
        if (model.modules().Any(m => ReferenceEquals(m, replacement)))
            throw new ArgumentException($"the replacement for '{path}' is already part of the model; a module cannot sit in two places", nameof(replacement));
        ModulePaths.ReplaceChild(parent, parentPath, name, replacement);
        return new ModuleReplacement(path, old, Describe(old), Describe(replacement), ModulePaths.CountParameters(old), ModulePaths.CountParameters(replacement));
    }

    /// <summary>Inserts <paramref name="module"/> as <paramref name="name"/> right after <paramref name="path"/>, which must sit in a Sequential.</summary>
    public static ModuleInsertion InsertAfter(nn.Module model, string path, string name, nn.Module<Tensor, Tensor> module) =>
        InsertNextTo(model, path, name, module, after: true);

    /// <summary>Inserts <paramref name="module"/> as <paramref name="name"/> right before <paramref name="path"/>, which must sit in a Sequential.</summary>
    public static ModuleInsertion InsertBefore(nn.Module model, string path, string name, nn.Module<Tensor, Tensor> module) =>
        InsertNextTo(model, path, name, module, after: false);

    /// <summary>
    /// Appends <paramref name="module"/> as <paramref name="name"/> to the Sequential at <paramref name="containerPath"/>
    /// ("" for a model that is itself a Sequential): <c>Append(resnet, "layer4", "neck", m)</c> runs m on layer4's output.
    /// </summary>
    public static ModuleInsertion Append(nn.Module model, string containerPath, string name, nn.Module<Tensor, Tensor> module)
    {
        var container = ModulePaths.Find(model, containerPath);
        if (container is not Sequential sequential)
            throw new ArgumentException($"'{Shown(containerPath)}' is a {container.GetType().Name}, not a Sequential: its forward is fixed code, so a module appended to it would never run");
        return Insert(model, sequential, containerPath, (int)sequential.Count, name, module);
    }

    /// <summary>
    /// Gives <paramref name="model"/> a freshly initialised classifier for <paramref name="numClasses"/> classes, as its
    /// family initialises one (<see cref="Backbone.ResetClassifier"/>); everything else stays.
    /// </summary>
    public static ClassifierReplacement ReplaceClassifier(Backbone model, long numClasses)
    {
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "a classifier needs at least one class");
        long before = model.NumClasses;
        model.ResetClassifier(numClasses);
        return new ClassifierReplacement(model.ClassifierPath, model.NumFeatures, before, model.NumClasses,
            ModulePaths.CountParameters(ModulePaths.Find(model, model.ClassifierPath)));
    }

    static ModuleInsertion InsertNextTo(nn.Module model, string path, string name, nn.Module<Tensor, Tensor> module, bool after)
    {
        var (parent, parentPath, child) = ModulePaths.Parent(model, path);
        if (parent is not Sequential sequential)
            throw new ArgumentException($"'{path}' is a child of {parent.GetType().Name} ('{Shown(parentPath)}'), whose forward is fixed code, not a Sequential: "
                + $"insert inside a Sequential (e.g. Append to '{path}' if it is one) or build a StageNetwork around the parts you need");
        int index = sequential.named_children().Select(c => c.name).ToList().IndexOf(child) + (after ? 1 : 0);
        return Insert(model, sequential, parentPath, index, name, module);
    }

    static ModuleInsertion Insert(nn.Module model, Sequential sequential, string containerPath, int index, string name, nn.Module<Tensor, Tensor> module)
    {
        ArgumentNullException.ThrowIfNull(module);
        ModulePaths.CheckName(sequential, containerPath, name);
        if (model.modules().Prepend(model).Any(m => ReferenceEquals(m, module)))
            throw new ArgumentException($"the module to insert as '{ModulePaths.Join(containerPath, name)}' is already part of the model", nameof(module));
        ModulePaths.Insert(sequential, index, name, module);
        return new ModuleInsertion(ModulePaths.Join(containerPath, name), Shown(containerPath), index, Describe(module), ModulePaths.CountParameters(module));
    }

    static string Shown(string path) => path.Length == 0 ? "(root)" : path;

    internal static string Describe(nn.Module module) => module switch
    {
        Conv2d c => $"Conv2d({c.in_channels}, {c.out_channels}, kernel {string.Join("×", c.kernel_size)}, stride {string.Join("×", c.stride)})",
        Linear l => $"Linear({l.in_features}, {l.out_features})",
        _ => module.GetType().Name,
    };
}

/// <summary>What <see cref="Surgery.ReplaceModule"/> did; <see cref="Replaced"/> is the module taken out (the caller disposes it).</summary>
public sealed record ModuleReplacement(string Path, nn.Module Replaced, string OldModule, string NewModule, long OldParameters, long NewParameters)
{
    public override string ToString() => $"{Path}: {OldModule} ({OldParameters:N0} parameters) replaced by {NewModule} ({NewParameters:N0} parameters)";
}

/// <summary>What an insertion did: the new module's path and its position in its Sequential.</summary>
public sealed record ModuleInsertion(string Path, string Container, int Index, string Module, long Parameters)
{
    public override string ToString() => $"inserted {Path}: {Module} ({Parameters:N0} parameters) at position {Index} of {Container}";
}

/// <summary>What <see cref="Surgery.ReplaceClassifier"/> did.</summary>
public sealed record ClassifierReplacement(string Path, long Features, long OldClasses, long NewClasses, long Parameters)
{
    public override string ToString() =>
        $"{Path}: classifier for {OldClasses} classes replaced by a freshly initialised one for {NewClasses} ({Features} features in, {Parameters:N0} parameters)";
}
