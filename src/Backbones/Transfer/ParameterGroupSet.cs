using System.Globalization;
using System.Text;
using TorchSharp.Modules;

namespace Backbones.Transfer;

/// <summary>
/// The parameter groups <see cref="ParameterGroups"/> built, ready for TorchSharp's optimizers (each group carries
/// its own learning rate and weight decay; other settings come from the optimizer's arguments), with a report.
/// </summary>
public sealed class ParameterGroupSet
{
    internal ParameterGroupSet(IReadOnlyList<ParameterGroup> groups, double learningRate, double weightDecay, IReadOnlyList<string> excludedFrozen)
    {
        Groups = groups;
        LearningRate = learningRate;
        WeightDecay = weightDecay;
        ExcludedFrozen = excludedFrozen;
    }

    public IReadOnlyList<ParameterGroup> Groups { get; }

    /// <summary>The base learning rate and weight decay groups without their own take.</summary>
    public double LearningRate { get; }
    public double WeightDecay { get; }

    /// <summary>Frozen parameters (requires_grad false) left out of every group.</summary>
    public IReadOnlyList<string> ExcludedFrozen { get; }

    /// <summary>For <c>optim.SGD(set.ToSgd(), set.LearningRate, momentum: 0.9)</c>.</summary>
    public IReadOnlyList<SGD.ParamGroup> ToSgd() =>
        Groups.Select(g => new SGD.ParamGroup(Tensors(g), new SGD.Options { LearningRate = g.LearningRate, weight_decay = g.WeightDecay })).ToList();

    /// <summary>For <c>optim.Adam(set.ToAdam(), set.LearningRate)</c>; Adam's weight decay is an L2 term in the gradient.</summary>
    public IReadOnlyList<Adam.ParamGroup> ToAdam() =>
        Groups.Select(g => new Adam.ParamGroup(Tensors(g), new Adam.Options { LearningRate = g.LearningRate, weight_decay = g.WeightDecay })).ToList();

    /// <summary>For <c>optim.AdamW(set.ToAdamW(), set.LearningRate)</c>; decoupled decay, scaled by each group's learning rate.</summary>
    public IReadOnlyList<AdamW.ParamGroup> ToAdamW() =>
        Groups.Select(g => new AdamW.ParamGroup(Tensors(g), new AdamW.Options { LearningRate = g.LearningRate, weight_decay = g.WeightDecay })).ToList();

    // A list, not a lazy query: TorchSharp's optimizers enumerate a group's parameters on every step.
    static List<Parameter> Tensors(ParameterGroup g) => g.Parameters.Select(p => p.Parameter).ToList();

    public override string ToString()
    {
        var c = CultureInfo.InvariantCulture;
        int width = Math.Max(5, Groups.Select(g => g.Name.Length).DefaultIfEmpty(0).Max());
        var text = new StringBuilder();
        text.AppendLine(string.Format(c, "{0} {1,12} {2,12} {3,8} {4,14}", "group".PadRight(width), "lr", "weight decay", "tensors", "elements"));
        foreach (var g in Groups)
            text.AppendLine(string.Format(c, "{0} {1,12:G6} {2,12:G6} {3,8} {4,14:N0}", g.Name.PadRight(width), g.LearningRate, g.WeightDecay, g.Parameters.Count, g.ElementCount));
        text.Append(string.Format(c, "{0} groups, {1} tensors, {2:N0} elements", Groups.Count, Groups.Sum(g => g.Parameters.Count), Groups.Sum(g => g.ElementCount)));
        if (ExcludedFrozen.Count > 0) text.Append(string.Format(c, "; {0} frozen tensors left out", ExcludedFrozen.Count));
        return text.ToString();
    }
}
