using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Models.Layers;

/// <summary>
/// Layer normalisation over the channels of an NCHW tensor, as torchvision's ConvNeXt LayerNorm2d: permute to NHWC,
/// normalise the last dimension with an affine weight and bias (keys <c>weight</c>, <c>bias</c>), permute back.
/// </summary>
public sealed class LayerNorm2d : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly Parameter bias;
    readonly long[] _normalizedShape;

    public double Eps { get; }

    public LayerNorm2d(long channels, double eps = 1e-5) : base(nameof(LayerNorm2d))
    {
        _normalizedShape = [channels];
        Eps = eps;
        weight = new Parameter(ones(channels));
        bias = new Parameter(zeros(channels));
        RegisterComponents();
    }

    public long Channels => _normalizedShape[0];

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = nn.functional.layer_norm(x.permute(0, 2, 3, 1), _normalizedShape, weight, bias, Eps);
        return y.permute(0, 3, 1, 2).MoveToOuterDisposeScope();
    }
}
