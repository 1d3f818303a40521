using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Transfer;

/// <summary>
/// The outputs of any named modules (<c>layer2</c>, <c>features.denseblock3</c>, <c>layer3.2.conv1</c>) from one forward,
/// as torchvision's create_feature_extractor gives them; the forward stops as soon as the last of them has run.
/// </summary>
/// <remarks>
/// Each output is the module's first output in the forward (a module called twice gives its first call's, as
/// torchvision names it), keeps its autograd graph, and is a copy, so in-place operations later in the forward
/// do not change it. The extractor's children are the model's top-level children up to the last one holding a requested
/// module, under their own names: its state-dict keys are the model's minus those of children it never runs. It wraps the
/// model and owns it: disposing the extractor disposes the model.
/// </remarks>
public sealed class FeatureExtractor : ModelView<IReadOnlyDictionary<string, Tensor>>
{
    readonly nn.Module<Tensor, Tensor> _model;
    readonly IReadOnlyList<(string Path, nn.Module<Tensor, Tensor> Module)> _targets;

    FeatureExtractor(nn.Module<Tensor, Tensor> model, IReadOnlyList<(string, nn.Module<Tensor, Tensor>)> targets) : base(nameof(FeatureExtractor), model)
    {
        _model = model;
        _targets = targets;
        foreach (var (name, child) in ModulePaths.ChildrenThrough(model, targets.Select(t => t.Item1))) register_module(name, child);
    }

    /// <summary>An extractor of <paramref name="paths"/>' outputs, returned in that order, keyed by path.</summary>
    public static FeatureExtractor Create(nn.Module<Tensor, Tensor> model, IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(model);
        var list = paths.ToList();
        if (list.Count == 0) throw new ArgumentException($"no module paths given for {ModulePaths.NameOf(model)}", nameof(paths));
        return new FeatureExtractor(model, ModulePaths.Resolve(model, list));
    }

    /// <summary>The requested module paths, in the order the outputs come.</summary>
    public IReadOnlyList<string> Paths => _targets.Select(t => t.Path).ToList();

    /// <summary>The wrapped model.</summary>
    public nn.Module<Tensor, Tensor> Model => _model;

    public override IReadOnlyDictionary<string, Tensor> forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var stop = new object(); // this forward's own signal: an extractor nested in the model must not catch it
        var captured = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var removeHooks = new List<Action>();
        try
        {
            foreach (var (path, module) in _targets)
            {
                var hook = module.register_forward_hook((_, _, output) =>
                {
                    if (captured.ContainsKey(path)) return null!;
                    bool last = captured.Count == _targets.Count - 1;
                    // Nothing runs after the last one, so it needs no copy; the alias survives the disposal of the original.
                    var kept = last ? output.alias() : output.clone();
                    scope.Attach(kept);
                    captured[path] = kept;
                    if (last) throw new ForwardStopped(stop);
                    return null!; // TorchSharp: a null result keeps the module's own output
                });
                removeHooks.Add(hook.remove);
            }
            try
            {
                _model.call(x);
            }
            catch (ForwardStopped stopped) when (stopped.Token == stop)
            {
            }
        }
        finally
        {
            foreach (var remove in removeHooks) remove();
        }
        if (captured.Count < _targets.Count)
            throw new InvalidOperationException(
                $"a forward of {ModulePaths.NameOf(_model)} never ran {string.Join(", ", _targets.Where(t => !captured.ContainsKey(t.Path)).Select(t => $"'{t.Path}'"))}");

        var outputs = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (path, _) in _targets) outputs.Add(path, scope.MoveToOuter(captured[path]));
        return outputs;
    }


    /// <summary>Thrown by the hook of the last module to run, caught by <see cref="forward"/>: the rest of the forward is skipped.</summary>
    sealed class ForwardStopped(object token) : Exception
    {
        public object Token => token;
    }
}
