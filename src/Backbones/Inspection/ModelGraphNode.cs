namespace Backbones.Inspection;

/// <summary>
/// One node of a <see cref="ModelGraph"/>: a module call (its path, type and which call of that module it is), an
/// operator of a container (its ONNX type, the container's path), or the input or output; with the shape it outputs.
/// </summary>
public sealed record ModelGraphNode(string Id, ModelGraphNodeKind Kind, string Path, string Type, IReadOnlyList<long> OutputShape,
    string? Cluster, int Call = 1)
{
    public override string ToString() =>
        $"{Id} {Kind} {(Path.Length == 0 ? "(root)" : Path)}{(Call > 1 ? $" (call {Call})" : "")} {Type} [{string.Join(", ", OutputShape)}]";
}
