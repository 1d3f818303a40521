namespace Backbones.Serialization.Pickle;

/// <summary>
/// A Python dict or OrderedDict read from a pickle: insertion order kept, keys as .NET values
/// (string, long, ...), plus the instance attributes a pickle sets on it (a state dict's <c>_metadata</c>).
/// </summary>
public sealed class PyDict : OrderedDictionary<object, object?>
{
    /// <summary>Attributes restored onto the dict by the pickle's BUILD (e.g. <c>_metadata</c>), or empty.</summary>
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);

    /// <summary>True for collections.OrderedDict, false for a plain dict.</summary>
    public bool Ordered { get; init; }
}

/// <summary>A Python global the allow-list admits as a value (a dtype, a class), kept by name.</summary>
public sealed record PyGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}
