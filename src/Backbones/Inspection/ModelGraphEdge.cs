namespace Backbones.Inspection;

/// <summary>Data flowing from one node of a <see cref="ModelGraph"/> to another (by node id), at least one tensor.</summary>
public sealed record ModelGraphEdge(string From, string To)
{
    public override string ToString() => $"{From} -> {To}";
}
