namespace Backbones.Onnx;

/// <summary>
/// A tensor of the ONNX graph being built: its value name and its static shape, dimension 0 being the batch (written
/// as the symbolic <c>batch</c> when the export has a dynamic batch). Emitters pass these from module to module.
/// </summary>
public sealed record OnnxValue(string Name, IReadOnlyList<long> Shape)
{
    public int Rank => Shape.Count;

    public override string ToString() => $"{Name} [{string.Join(", ", Shape)}]";
}
