using Backbones.Init;
using TorchSharp;
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
        x = NeedsPaddedChannels(x) ? PaddedTransposedConvolution(x) : kps_score_lowres.call(x);
        return nn.functional.interpolate(x, scale_factor: [UpScale, UpScale], mode: InterpolationMode.Bilinear, align_corners: false,
            recompute_scale_factor: false).MoveToOuterDisposeScope();
    }

    // libtorch 2.10's CPU transposed convolution returns a wrong float32 input gradient when its output channels are
    // not a multiple of 16 (measured: 512 → 17, 24% relative L2 off float64; 16 and 32 exact), which would train the
    // keypoint head wrongly. Where that gradient is needed, the weight gets zero channels up to a multiple of 16.
    bool NeedsPaddedChannels(Tensor x) =>
        NumKeypoints % 16 != 0 && x.dtype == ScalarType.Float32 && x.device_type == DeviceType.CPU && x.requires_grad && is_grad_enabled();

    Tensor PaddedTransposedConvolution(Tensor x)
    {
        var weight = kps_score_lowres.weight!;
        var bias = kps_score_lowres.bias!;
        long k = NumKeypoints, extra = (k + 15) / 16 * 16 - k;
        var paddedWeight = cat([weight, zeros(weight.shape[0], extra, weight.shape[2], weight.shape[3], weight.dtype, weight.device)], 1);
        var paddedBias = cat([bias, zeros(extra, bias.dtype, bias.device)], 0);
        return nn.functional.conv_transpose2d(x, paddedWeight, paddedBias, strides: [2, 2], padding: [1, 1])[.., ..(int)k];
    }
}
