namespace Backbones.Init;

/// <summary>
/// One leaf module's output in a forward: its position in call order, path, type, shape, mean, standard deviation,
/// extremes, and how many elements were NaN or infinite.
/// </summary>
public sealed record LayerStatistics(int Index, string Path, string Type, long[] Shape, double Mean, double Std, double Min, double Max, long NonFinite)
{
    public bool IsFinite => NonFinite == 0;
}
