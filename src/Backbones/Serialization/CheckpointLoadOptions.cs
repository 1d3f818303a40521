using Backbones.Serialization.Pickle;

namespace Backbones.Serialization;

/// <summary>How strictly and how fast to read a checkpoint.</summary>
public sealed record CheckpointLoadOptions
{
    /// <summary>Caps on the pickle (size, nesting, integer length).</summary>
    public PickleLimits Limits { get; init; } = PickleLimits.Default;

    /// <summary>
    /// Check each zip member's CRC-32, so a flipped bit in the weights is an error rather than a wrong number.
    /// torch.load does not check it; turning it off saves about a third of the load time of a warm file.
    /// </summary>
    public bool VerifyChecksums { get; init; } = true;

    public static CheckpointLoadOptions Default { get; } = new();
}
