namespace Backbones.Data;

/// <summary>The random part of one <see cref="TrainTransform"/>: the crop box, whether to flip, and the jitter (null when off).</summary>
public sealed record TrainDraw(CropBox Crop, bool Flip, JitterDraw? Jitter)
{
    public override string ToString() => $"crop {Crop}{(Flip ? ", flipped" : "")}{(Jitter is null ? "" : $", jitter {Jitter}")}";
}
