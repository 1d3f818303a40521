using static TorchSharp.torch;

namespace Backbones.Models.Layers;

/// <summary>
/// A view of the input with its dimensions permuted, as torchvision.ops.misc.Permute; a module (rather than a call)
/// so that it takes its index in a Sequential exactly as in torchvision (ConvNeXt's <c>block.1</c>, <c>block.6</c>).
/// </summary>
public sealed class Permute : nn.Module<Tensor, Tensor>
{
    readonly long[] _dims;

    public Permute(params long[] dims) : base(nameof(Permute)) => _dims = dims;

    public IReadOnlyList<long> Dims => _dims;

    public override Tensor forward(Tensor x) => x.permute(_dims);
}
