using Backbones.Serialization.Pickle;
using Backbones.Transfer;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Training;

/// <summary>
/// A TorchSharp optimizer over named parameter groups, whose learning rates a schedule sets and whose state reads and
/// writes as torch.optim's <c>state_dict()</c> (PyTorch 1.13's keys: <c>state</c> by parameter index, <c>param_groups</c>
/// with <c>params</c> indices), so a checkpoint resumes in either library.
/// </summary>
public sealed class TrainingOptimizer : IDisposable
{
    readonly OptimizerHelper _optimizer;
    readonly List<Parameter> _parameters;

    public TrainingOptimizer(OptimizerKind kind, ParameterGroupSet groups, double momentum = 0.9)
    {
        Kind = kind;
        Groups = groups.Groups;
        BaseLearningRates = groups.Groups.Select(g => g.LearningRate).ToList();
        Momentum = momentum;
        _parameters = groups.Groups.SelectMany(g => g.Parameters.Select(p => p.Parameter)).ToList();
        _optimizer = kind switch
        {
            OptimizerKind.Sgd => (OptimizerHelper)optim.SGD(groups.ToSgd().Select(g => { g.Options.momentum = momentum; return g; }), groups.LearningRate, momentum),
            OptimizerKind.Adam => optim.Adam(groups.ToAdam(), groups.LearningRate),
            OptimizerKind.AdamW => optim.AdamW(groups.ToAdamW(), groups.LearningRate),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
        };
    }

    public OptimizerKind Kind { get; }
    public IReadOnlyList<ParameterGroup> Groups { get; }
    public IReadOnlyList<double> BaseLearningRates { get; }
    public double Momentum { get; }

    /// <summary>The learning rate each group steps with now, by group name.</summary>
    public IReadOnlyDictionary<string, double> LearningRates =>
        Groups.Zip(_optimizer.ParamGroups).ToDictionary(p => p.First.Name, p => p.Second.LearningRate);

    /// <summary>Every group at its base rate times <paramref name="factor"/> (the schedule's).</summary>
    public void SetFactor(double factor)
    {
        int i = 0;
        foreach (var group in _optimizer.ParamGroups) group.LearningRate = BaseLearningRates[i++] * factor;
    }

    public void ZeroGrad() => _optimizer.zero_grad();

    public void Step() => _optimizer.step();

    /// <summary>torch.optim's state_dict: per-parameter state by index, then the groups with their settings.</summary>
    public PyDict ToStateDict()
    {
        var state = new PyDict();
        var saved = _optimizer.state_dict();
        var live = saved.State;
        for (int i = 0; i < live.Count; i++)
        {
            var entry = StateOf(live[i]);
            if (entry is not null) state[(long)i] = entry;
        }
        var groups = new List<object?>();
        int index = 0;
        var options = saved.Options;
        for (int g = 0; g < Groups.Count; g++)
        {
            var group = GroupSettings(options[g]);
            group["initial_lr"] = BaseLearningRates[g];
            group["name"] = Groups[g].Name;
            group["params"] = Enumerable.Range(index, Groups[g].Parameters.Count).Select(i => (object?)(long)i).ToList();
            index += Groups[g].Parameters.Count;
            groups.Add(group);
        }
        return new PyDict { ["state"] = state, ["param_groups"] = groups };
    }

    /// <summary>
    /// Restores what <see cref="ToStateDict"/> wrote (or PyTorch's own optimizer.state_dict() for the same groups):
    /// same number of groups and of parameters per group, each state tensor of its parameter's shape.
    /// </summary>
    public void LoadStateDict(PyDict saved, string source)
    {
        if (saved.GetValueOrDefault("param_groups") is not System.Collections.IList groups || groups.Count != Groups.Count)
            throw new InvalidDataException($"{source}: the optimizer state has {Count(saved.GetValueOrDefault("param_groups"))} parameter groups, this run has {Groups.Count}");
        var current = _optimizer.state_dict();
        var options = current.Options;
        for (int g = 0; g < Groups.Count; g++)
        {
            if (groups[g] is not PyDict group || group.GetValueOrDefault("params") is not System.Collections.IList ids || ids.Count != Groups[g].Parameters.Count)
                throw new InvalidDataException($"{source}: optimizer group {g} ({Groups[g].Name}) holds another number of parameters than this run's {Groups[g].Parameters.Count}");
            if (group.GetValueOrDefault("lr") is double lr) options[g].LearningRate = lr;
        }
        var state = saved.GetValueOrDefault("state") as PyDict ?? throw new InvalidDataException($"{source}: the optimizer state has no 'state' dictionary");
        var live = current.State;
        foreach (var (key, value) in state)
        {
            int i = Convert.ToInt32(key, System.Globalization.CultureInfo.InvariantCulture);
            if (i < 0 || i >= live.Count || value is not PyDict entry)
                throw new InvalidDataException($"{source}: optimizer state for parameter {key}, which this run does not have");
            Restore(live[i], entry, _parameters[i], $"{source}: optimizer.state.{i}");
        }
    }

    static int Count(object? list) => list is System.Collections.IList l ? l.Count : 0;

    PyDict? StateOf(OptimizerState state)
    {
        switch (state)
        {
            case SGD.State sgd:
                return sgd.momentum_buffer is null ? null : new PyDict { ["momentum_buffer"] = sgd.momentum_buffer };
            case Adam.State adam when adam.step > 0:
                return AdamEntry(adam.step, adam.exp_avg, adam.exp_avg_sq, adam.max_exp_avg_sq);
            case AdamW.State adamw when adamw.step > 0:
                return AdamEntry(adamw.step, adamw.exp_avg, adamw.exp_avg_sq, adamw.max_exp_avg_sq);
            default:
                return null;
        }
    }

    // PyTorch ≥ 1.12 keeps Adam's step as a float32 scalar tensor.
    static PyDict AdamEntry(long step, Tensor expAvg, Tensor expAvgSq, Tensor? maxExpAvgSq)
    {
        var entry = new PyDict { ["step"] = tensor((float)step), ["exp_avg"] = expAvg, ["exp_avg_sq"] = expAvgSq };
        if (maxExpAvgSq is not null) entry["max_exp_avg_sq"] = maxExpAvgSq;
        return entry;
    }

    static void Restore(OptimizerState state, PyDict entry, Parameter parameter, string where)
    {
        Tensor Read(string name)
        {
            var t = entry.GetValueOrDefault(name) as Tensor ?? throw new InvalidDataException($"{where} has no tensor '{name}'");
            if (!t.shape.SequenceEqual(parameter.shape))
                throw new InvalidDataException($"{where}.{name} is [{string.Join(", ", t.shape)}], its parameter [{string.Join(", ", parameter.shape)}]");
            return t;
        }
        using var _ = no_grad();
        switch (state)
        {
            case SGD.State sgd:
                var buffer = Read("momentum_buffer");
                sgd.momentum_buffer?.Dispose();
                sgd.momentum_buffer = buffer.to(parameter.dtype, parameter.device, copy: true).DetachFromDisposeScope();
                break;
            case Adam.State adam:
                adam.step = Step(entry, where);
                adam.exp_avg.copy_(Read("exp_avg"));
                adam.exp_avg_sq.copy_(Read("exp_avg_sq"));
                break;
            case AdamW.State adamw:
                adamw.step = Step(entry, where);
                adamw.exp_avg.copy_(Read("exp_avg"));
                adamw.exp_avg_sq.copy_(Read("exp_avg_sq"));
                break;
        }
    }

    static long Step(PyDict entry, string where) => entry.GetValueOrDefault("step") switch
    {
        Tensor t => (long)Math.Round(t.to_type(ScalarType.Float64).item<double>()),
        long l => l,
        double d => (long)d,
        var other => throw new InvalidDataException($"{where}.step is {other?.GetType().Name ?? "missing"}, not a number"),
    };

    // The settings torch 1.13 writes for each group, so PyTorch's optimizer loads it and steps as ours did.
    PyDict GroupSettings(OptimizerOptions options) => options switch
    {
        SGD.Options o => new PyDict
        {
            ["lr"] = o.LearningRate, ["momentum"] = o.momentum, ["dampening"] = o.dampening, ["weight_decay"] = o.weight_decay,
            ["nesterov"] = o.nesterov, ["maximize"] = o.maximize, ["foreach"] = null, ["differentiable"] = false,
        },
        Adam.Options o => AdamSettings(o.LearningRate, o.beta1, o.beta2, o.eps, o.weight_decay, o.amsgrad, o.maximize),
        AdamW.Options o => AdamSettings(o.LearningRate, o.beta1, o.beta2, o.eps, o.weight_decay, o.amsgrad, o.maximize),
        _ => throw new InvalidOperationException($"no PyTorch spelling for {options.GetType().Name}"),
    };

    static PyDict AdamSettings(double? lr, double? beta1, double? beta2, double? eps, double? weightDecay, bool? amsgrad, bool? maximize) => new()
    {
        ["lr"] = lr, ["betas"] = new object?[] { beta1, beta2 }, ["eps"] = eps, ["weight_decay"] = weightDecay, ["amsgrad"] = amsgrad,
        ["maximize"] = maximize, ["foreach"] = null, ["capturable"] = false, ["differentiable"] = false, ["fused"] = false,
    };

    public void Dispose() => _optimizer.Dispose();
}
