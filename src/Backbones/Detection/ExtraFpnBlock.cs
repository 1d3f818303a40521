using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision's <c>ExtraFPNBlock</c>: what a feature pyramid appends after its own levels (LastLevelMaxPool's "pool"),
/// given the pyramid's results, the backbone maps they came from and their names; returns the extended lists.
/// </summary>
public abstract class ExtraFpnBlock
    : nn.Module<IReadOnlyList<Tensor>, IReadOnlyList<Tensor>, IReadOnlyList<string>, (IReadOnlyList<Tensor> Results, IReadOnlyList<string> Names)>
{
    protected ExtraFpnBlock(string name) : base(name) { }
}
