namespace Backbones.Transfer;

/// <summary>
/// What truncating a backbone kept: its output (spatial maps or pooled vectors, their width and total stride) and the
/// head's state-dict keys it left out, which a full checkpoint of the model then reports as unexpected.
/// </summary>
public sealed record TruncationReport(string Architecture, bool Pooled, long OutChannels, long Stride, int KeptKeys, IReadOnlyList<string> DroppedKeys)
{
    public override string ToString() =>
        $"{Architecture} truncated to {(Pooled ? $"pooled vectors of {OutChannels} (from maps at stride {Stride})" : $"maps of {OutChannels} channels at stride {Stride}")}; "
        + $"kept {KeptKeys} state-dict keys, dropped the head's {DroppedKeys.Count}"
        + (DroppedKeys.Count == 0 ? "" : ": " + string.Join(", ", DroppedKeys.Take(20)) + (DroppedKeys.Count > 20 ? $", ... ({DroppedKeys.Count - 20} more)" : ""));
}
