using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Backbones.Models;

/// <summary>
/// SqueezeNet 1.0 and 1.1 as torchvision 0.14 builds them ("SqueezeNet", Iandola et al. 2016): Fire modules
/// (1×1 squeeze, then parallel 1×1 and 3×3 expands concatenated) between max-pools, and a 1×1 convolution as classifier.
/// </summary>
public sealed class SqueezeNet : Backbone
{
    /// <summary>1×1 squeeze to few channels, then 1×1 and 3×3 expansions whose outputs are concatenated.</summary>
    public sealed class Fire : Module<Tensor, Tensor>
    {
        readonly Conv2d squeeze;
        readonly ReLU squeeze_activation;
        readonly Conv2d expand1x1;
        readonly ReLU expand1x1_activation;
        readonly Conv2d expand3x3;
        readonly ReLU expand3x3_activation;

        public Fire(long inplanes, long squeezePlanes, long expand1x1Planes, long expand3x3Planes) : base(nameof(Fire))
        {
            squeeze = Conv2d(inplanes, squeezePlanes, 1);
            squeeze_activation = ReLU(inplace: true);
            expand1x1 = Conv2d(squeezePlanes, expand1x1Planes, 1);
            expand1x1_activation = ReLU(inplace: true);
            expand3x3 = Conv2d(squeezePlanes, expand3x3Planes, 3, padding: 1);
            expand3x3_activation = ReLU(inplace: true);
            OutChannels = expand1x1Planes + expand3x3Planes;
            RegisterComponents();
        }

        public long OutChannels { get; }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var s = squeeze_activation.call(squeeze.call(x));
            var y = cat([expand1x1_activation.call(expand1x1.call(s)), expand3x3_activation.call(expand3x3.call(s))], 1);
            return y.MoveToOuterDisposeScope();
        }
    }

    public enum Version { V1_0, V1_1 }

    const long FinalChannels = 512;
    const int FinalConv = 1;

    readonly Sequential features;
    Sequential classifier;

    readonly FeatureInfo[] _featureInfo;

    public SqueezeNet(Version version, ModelOptions options) : base(nameof(SqueezeNet))
    {
        double dropout = options.DropRate ?? 0.5;
        static MaxPool2d Pool() => MaxPool2d(3, stride: 2, ceil_mode: true);
        if (version == Version.V1_0)
        {
            features = Sequential(
                Conv2d(options.InChannels, 96, 7, stride: 2),
                ReLU(inplace: true),
                Pool(),
                new Fire(96, 16, 64, 64),
                new Fire(128, 16, 64, 64),
                new Fire(128, 32, 128, 128),
                Pool(),
                new Fire(256, 32, 128, 128),
                new Fire(256, 48, 192, 192),
                new Fire(384, 48, 192, 192),
                new Fire(384, 64, 256, 256),
                Pool(),
                new Fire(512, 64, 256, 256));
            _featureInfo = [new("features.2", 96, 4), new("features.6", 256, 8), new("features.12", 512, 16)];
        }
        else
        {
            features = Sequential(
                Conv2d(options.InChannels, 64, 3, stride: 2),
                ReLU(inplace: true),
                Pool(),
                new Fire(64, 16, 64, 64),
                new Fire(128, 16, 64, 64),
                Pool(),
                new Fire(128, 32, 128, 128),
                new Fire(256, 32, 128, 128),
                Pool(),
                new Fire(256, 48, 192, 192),
                new Fire(384, 48, 192, 192),
                new Fire(384, 64, 256, 256),
                new Fire(512, 64, 256, 256));
            _featureInfo = [new("features.2", 64, 4), new("features.5", 128, 8), new("features.12", 512, 16)];
        }
        var finalConv = Conv2d(FinalChannels, options.NumClasses, 1);
        classifier = Sequential(Dropout(dropout), finalConv, ReLU(inplace: true), AdaptiveAvgPool2d(1));
        RegisterComponents();
        InitialiseLikeTorchvision(finalConv);
    }

    /// <summary>Convolutions: Kaiming uniform (PyTorch's defaults: fan-in, leaky-ReLU gain with a = 0), bias 0; the final one normal(0, 0.01).</summary>
    void InitialiseLikeTorchvision(Conv2d finalConv)
    {
        using var _ = no_grad();
        foreach (var (_, module) in named_modules())
        {
            if (module is not Conv2d conv) continue;
            if (ReferenceEquals(conv, finalConv)) InitialiseFinalConv(conv);
            else
            {
                init.kaiming_uniform_(conv.weight!);
                if (conv.bias is not null) init.zeros_(conv.bias);
            }
        }
    }

    static void InitialiseFinalConv(Conv2d conv)
    {
        using var _ = no_grad();
        init.normal_(conv.weight!, 0, 0.01);
        init.zeros_(conv.bias!);
    }

    public override Tensor ForwardFeatures(Tensor x)
    {
        using var scope = NewDisposeScope();
        return features.call(x).MoveToOuterDisposeScope();
    }

    /// <summary>Dropout, 1×1 convolution, ReLU, global average pool; with <paramref name="preLogits"/>, the (dropped-out) map entering the convolution.</summary>
    public override Tensor ForwardHead(Tensor features, bool preLogits = false)
    {
        using var scope = NewDisposeScope();
        var x = preLogits ? classifier[0].call(features) : classifier.call(features).flatten(1);
        return x.MoveToOuterDisposeScope();
    }

    public override long NumFeatures => FinalChannels;
    public override long NumClasses => ((Conv2d)classifier[FinalConv]).out_channels;
    public override string ClassifierPath => $"classifier.{FinalConv}";
    public override string FirstConvPath => "features.0";

    public override void ResetClassifier(long numClasses)
    {
        var fresh = Conv2d(FinalChannels, numClasses, 1);
        InitialiseFinalConv(fresh);
        classifier = ChildModules.ReplaceInSequential(this, "classifier", classifier, FinalConv, fresh);
    }

    /// <summary>The first two max-pools, then the output of the features (after the last pool, at the same stride).</summary>
    public override IReadOnlyList<FeatureInfo> FeatureInfo => _featureInfo;

    internal static IEnumerable<ModelZoo.Entry> Variants =>
    [
        new("squeezenet1_0", "squeezenet", options => new SqueezeNet(Version.V1_0, options)),
        new("squeezenet1_1", "squeezenet", options => new SqueezeNet(Version.V1_1, options)),
    ];
}
