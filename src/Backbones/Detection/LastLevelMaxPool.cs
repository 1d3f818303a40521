using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision's <c>LastLevelMaxPool</c>: one more pyramid level, "pool", a stride-2 subsampling of the last one
/// (<c>max_pool2d(x, 1, 2, 0)</c>), which Faster/Keypoint R-CNN's RPN uses for its largest anchors.
/// </summary>
public sealed class LastLevelMaxPool : ExtraFpnBlock
{
    public LastLevelMaxPool() : base(nameof(LastLevelMaxPool)) { }

    public override (IReadOnlyList<Tensor> Results, IReadOnlyList<string> Names) forward(IReadOnlyList<Tensor> results, IReadOnlyList<Tensor> inputs, IReadOnlyList<string> names)
    {
        if (results.Count == 0) throw new ArgumentException("LastLevelMaxPool needs at least one pyramid level", nameof(results));
        var pooled = nn.functional.max_pool2d(results[^1], 1, 2, 0);
        return ([.. results, pooled], [.. names, "pool"]);
    }
}
