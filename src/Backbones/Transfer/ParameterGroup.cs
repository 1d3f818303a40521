using System.Globalization;
using TorchSharp.Modules;

namespace Backbones.Transfer;

/// <summary>
/// One optimizer parameter group: its name, learning rate, weight decay, and the parameters (with their
/// state-dict keys) it holds, in state-dict order.
/// </summary>
public sealed record ParameterGroup(string Name, double LearningRate, double WeightDecay, IReadOnlyList<(string Name, Parameter Parameter)> Parameters)
{
    public IReadOnlyList<string> Keys => Parameters.Select(p => p.Name).ToList();

    public long ElementCount => Parameters.Sum(p => p.Parameter.numel());

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Name}: lr {LearningRate:G6}, weight decay {WeightDecay:G6}, {Parameters.Count} tensors, {ElementCount:N0} elements");
}
