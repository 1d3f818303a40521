namespace Backbones.Serialization.Pickle;

/// <summary>Caps that keep a hostile pickle from costing more than a few times its own size.</summary>
public sealed record PickleLimits
{
    /// <summary>Largest pickle stream accepted (a state dict's pickle is kilobytes to a few megabytes).</summary>
    public long MaxPickleBytes { get; init; } = 256L << 20;

    /// <summary>Deepest nesting of containers accepted.</summary>
    public int MaxDepth { get; init; } = 512;

    /// <summary>Longest integer accepted by LONG1/LONG4, in bytes.</summary>
    public int MaxLongBytes { get; init; } = 1024;

    public static PickleLimits Default { get; } = new();
}
