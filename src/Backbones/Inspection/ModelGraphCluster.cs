namespace Backbones.Inspection;

/// <summary>A container module call above the graph's depth, drawn as a box around its nodes; clusters nest by <see cref="Parent"/>.</summary>
public sealed record ModelGraphCluster(string Id, string Path, string Type, string? Parent)
{
    public override string ToString() => $"{Id} {Path} {Type}";
}
