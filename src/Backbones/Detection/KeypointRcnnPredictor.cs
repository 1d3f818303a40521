using Backbones.Init;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision's KeypointRCNNPredictor: one heatmap logit map per keypoint from the keypoint head's features, a
/// ConvTranspose2d (<c>kps_score_lowres</c>, kernel 4, stride 2) then a bilinear ×2 upscale: 14×14 regions → 56×56.
/// </summary>
public sealed class KeypointRcnnPredictor : nn.Module<Tensor, Tensor>
{
    readonly ConvTranspose2d kps_score_lowres;

    public KeypointRcnnPredictor(long inChannels, long numKeypoints) : base(nameof(KeypointRcnnPredictor))
    {
        if (numKeypoints < 1) throw new ArgumentOutOfRangeException(nameof(numKeypoints), numKeypoints, "KeypointRcnnPredictor needs at least one keypoint");
        kps_score_lowres = nn.ConvTranspose2d(inChannels, numKeypoints, 4, stride: 2, padding: 1);
        using (no_grad())
        {
            Initializers.KaimingNormal(kps_score_lowres.weight!, mode: FanMode.FanOut, nonlinearity: "relu");
            Initializers.Zeros(kps_score_lowres.bias!);
        }
        RegisterComponents();
    }

    /// <summary>The heatmap upscale after the transposed convolution (torchvision's <c>up_scale</c>).</summary>
    public const int UpScale = 2;

    /// <summary>Channels of the keypoint head's features it reads (the transposed convolution's input).</summary>
    public long InChannels => kps_score_lowres.weight!.shape[0];

    /// <summary>Keypoints predicted: the transposed convolution's output channels (its weight is [in, out, 4, 4]).</summary>
    public long NumKeypoints => kps_score_lowres.weight!.shape[1];

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = kps_score_lowres.call(x);
        return nn.functional.interpolate(x, scale_factor: [UpScale, UpScale], mode: InterpolationMode.Bilinear, align_corners: false,
            recompute_scale_factor: false).MoveToOuterDisposeScope();
    }
}
