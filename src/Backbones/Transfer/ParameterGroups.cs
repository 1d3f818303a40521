using System.Text.RegularExpressions;
using Backbones.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Transfer;

/// <summary>
/// Builds optimizer parameter groups from a model's named parameters: per-group learning rate and weight decay by
/// name pattern, no decay on biases and normalisation weights, layer-wise learning-rate decay across stages.
/// </summary>
/// <remarks>
/// Every trainable parameter lands in exactly one group: the first added group whose pattern matches it, else its
/// stage group (with <see cref="LayerDecay"/>) or the group "default". Frozen parameters (requires_grad false) are
/// left out, or with <see cref="FrozenAtZeroLearningRate"/> kept in a group "frozen" with learning rate 0, ready to
/// be raised when they are unfrozen. Groups left empty are dropped.
/// </remarks>
public sealed class ParameterGroups
{
    sealed record Rule(string Name, string Pattern, Func<string, bool> Matches, double? LearningRate, double? WeightDecay);

    public const string DefaultGroup = "default";
    public const string FrozenGroup = "frozen";
    public const string NoDecaySuffix = "/no_decay";

    readonly nn.Module _model;
    readonly List<Rule> _rules = [];
    readonly List<Func<string, bool>> _noDecayNames = [];
    bool _noDecay, _keepFrozen;
    double? _layerDecay;
    StageGroups? _stages;

    ParameterGroups(nn.Module model) => _model = model;

    public static ParameterGroups For(nn.Module model) => new(model);

    /// <summary>A group for parameters matching any of the globs (a key or a module prefix: <c>layer4</c>, <c>fc.*</c>, <c>*.bias</c>).</summary>
    public ParameterGroups Add(string name, string[] match, double? lr = null, double? weightDecay = null)
    {
        if (match.Length == 0) throw new ArgumentException($"group '{name}' needs at least one pattern", nameof(match));
        var matchers = match.Select(ModuleWalk.Glob).ToList();
        return AddRule(new Rule(name, string.Join(", ", match), key => matchers.Any(m => m(key)), lr, weightDecay));
    }

    public ParameterGroups Add(string name, string match, double? lr = null, double? weightDecay = null) =>
        Add(name, [match], lr, weightDecay);

    /// <summary>A group for parameters whose key the regular expression finds a match in.</summary>
    public ParameterGroups Add(string name, Regex match, double? lr = null, double? weightDecay = null) =>
        AddRule(new Rule(name, $"/{match}/", match.IsMatch, lr, weightDecay));

    /// <summary>
    /// timm's rule: weight decay 0 for 1-D parameters (biases, normalisation weights) and keys ending in <c>.bias</c>,
    /// plus keys matching <paramref name="alsoMatching"/>; each group with decay splits off a "<c>name/no_decay</c>" twin.
    /// </summary>
    public ParameterGroups NoWeightDecayOnBiasAndNorm(params string[] alsoMatching)
    {
        _noDecay = true;
        _noDecayNames.AddRange(alsoMatching.Select(ModuleWalk.Glob));
        return this;
    }

    /// <summary>
    /// Layer-wise learning-rate decay (BEiT, timm): parameters no group took get their stage's group, with learning
    /// rate <c>lr × decay^(head − stage)</c>. Stages are <see cref="StageGroups.Of(Backbone)"/> unless given.
    /// </summary>
    public ParameterGroups LayerDecay(double decay, StageGroups? stages = null)
    {
        if (!(decay > 0 && decay <= 1)) throw new ArgumentOutOfRangeException(nameof(decay), decay, "layer decay must be in (0, 1]");
        _layerDecay = decay;
        _stages = stages;
        return this;
    }

    /// <summary>Keeps frozen parameters in an optimizer group "frozen" with learning rate 0 and weight decay 0.</summary>
    public ParameterGroups FrozenAtZeroLearningRate()
    {
        _keepFrozen = true;
        return this;
    }

    /// <summary>The groups, with <paramref name="lr"/> and <paramref name="weightDecay"/> for those without their own.</summary>
    public ParameterGroupSet Build(double lr, double weightDecay = 0)
    {
        CheckRate(lr, "base learning rate");
        CheckRate(weightDecay, "base weight decay");
        var parameters = ModuleWalk.Parameters(_model).ToList();
        foreach (var rule in _rules)
            if (!parameters.Any(p => rule.Matches(p.Name)))
                throw new ArgumentException($"group '{rule.Name}': {rule.Pattern} matches no parameter of {_model.GetName()}; top-level modules: {ModuleWalk.TopLevel(_model)}");

        StageGroups? stages = null;
        if (_layerDecay is not null)
            stages = _stages ?? (_model is Backbone backbone ? StageGroups.Of(backbone)
                : throw new InvalidOperationException($"layer decay on {_model.GetName()}, which is not a zoo Backbone: pass its StageGroups"));
        if (stages is not null && _rules.FirstOrDefault(r => stages.Stages.Any(s => s.Name == r.Name)) is { } clash)
            throw new ArgumentException($"group name '{clash.Name}' is also a stage's name under layer decay");

        // Buckets in output order: the added groups, then stages or the default group, then the frozen group.
        var buckets = new List<(string Name, double Lr, double Wd, List<(string, Parameter)> Members)>();
        foreach (var rule in _rules) buckets.Add((rule.Name, rule.LearningRate ?? lr, rule.WeightDecay ?? weightDecay, []));
        int firstStage = buckets.Count;
        if (stages is null) buckets.Add((DefaultGroup, lr, weightDecay, []));
        else foreach (var s in stages.Stages) buckets.Add((s.Name, lr * Math.Pow(_layerDecay!.Value, stages.HeadIndex - s.Index), weightDecay, []));
        int frozen = buckets.Count;
        buckets.Add((FrozenGroup, 0, 0, []));

        var excluded = new List<string>();
        foreach (var (name, p) in parameters)
        {
            if (!p.requires_grad)
            {
                if (_keepFrozen) buckets[frozen].Members.Add((name, p));
                else excluded.Add(name);
                continue;
            }
            int rule = _rules.FindIndex(r => r.Matches(name));
            int bucket = rule >= 0 ? rule : stages is null ? firstStage : firstStage + stages.IndexOf(name);
            buckets[bucket].Members.Add((name, p));
        }

        var groups = new List<ParameterGroup>();
        foreach (var (name, groupLr, wd, members) in buckets)
        {
            if (_noDecay && wd > 0 && name != FrozenGroup)
            {
                AddGroup(name, groupLr, wd, members.Where(m => !NoDecay(m.Item1, m.Item2)).ToList());
                AddGroup(name + NoDecaySuffix, groupLr, 0, members.Where(m => NoDecay(m.Item1, m.Item2)).ToList());
            }
            else AddGroup(name, groupLr, wd, members);
        }
        return new ParameterGroupSet(groups, lr, weightDecay, excluded);

        void AddGroup(string name, double groupLr, double wd, List<(string, Parameter)> members)
        {
            if (members.Count > 0) groups.Add(new ParameterGroup(name, groupLr, wd, members));
        }
    }

    bool NoDecay(string name, Parameter p) =>
        p.dim() <= 1 || name.EndsWith(".bias", StringComparison.Ordinal) || _noDecayNames.Any(m => m(name));

    ParameterGroups AddRule(Rule rule)
    {
        if (string.IsNullOrWhiteSpace(rule.Name)) throw new ArgumentException("a group needs a name");
        if (rule.Name is DefaultGroup or FrozenGroup || _rules.Any(r => r.Name == rule.Name))
            throw new ArgumentException($"group name '{rule.Name}' is taken");
        if (rule.LearningRate is { } lr) CheckRate(lr, $"group '{rule.Name}' learning rate");
        if (rule.WeightDecay is { } wd) CheckRate(wd, $"group '{rule.Name}' weight decay");
        _rules.Add(rule);
        return this;
    }

    static void CheckRate(double value, string what)
    {
        if (!(value >= 0) || double.IsInfinity(value)) throw new ArgumentOutOfRangeException(what, value, $"{what} must be a finite number ≥ 0");
    }
}
