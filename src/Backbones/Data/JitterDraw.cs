namespace Backbones.Data;

/// <summary>The random part of one <see cref="ColorJitter"/>: the order of the four adjustments (0 brightness,
/// 1 contrast, 2 saturation, 3 hue) and each factor, null for one that is off.</summary>
public sealed record JitterDraw(IReadOnlyList<int> Order, double? Brightness, double? Contrast, double? Saturation, double? Hue)
{
    public override string ToString() =>
        $"order [{string.Join(", ", Order)}], brightness {Brightness?.ToString("0.####") ?? "-"}, contrast {Contrast?.ToString("0.####") ?? "-"}, " +
        $"saturation {Saturation?.ToString("0.####") ?? "-"}, hue {Hue?.ToString("0.####") ?? "-"}";
}
