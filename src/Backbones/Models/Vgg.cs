using Backbones.Init;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Backbones.Models;

/// <summary>
/// VGG as torchvision 0.14 builds it ("Very Deep Convolutional Networks", Simonyan and Zisserman 2014): stacks of
/// 3×3 convolutions (optionally with BatchNorm) separated by 2×2 max-pools, a 7×7 adaptive pool and three linear layers.
/// </summary>
public sealed class Vgg : Backbone
{
    /// <summary>A layer configuration: output channels of each 3×3 convolution, <see cref="M"/> for a max-pool.</summary>
    const int M = 0;

    // Configurations A, B, D and E of the paper (vgg11, vgg13, vgg16, vgg19).
    static readonly int[] ConfigA = [64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M];
    static readonly int[] ConfigB = [64, 64, M, 128, 128, M, 256, 256, M, 512, 512, M, 512, 512, M];
    static readonly int[] ConfigD = [64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M];
    static readonly int[] ConfigE = [64, 64, M, 128, 128, M, 256, 256, 256, 256, M, 512, 512, 512, 512, M, 512, 512, 512, 512, M];

    const long HiddenWidth = 4096;
    const int LastLinear = 6;

    readonly Sequential features;
    readonly AdaptiveAvgPool2d avgpool;
    Sequential classifier;

    readonly List<FeatureInfo> _featureInfo = [];

    public Vgg(int[] config, bool batchNorm, ModelOptions options) : base(nameof(Vgg))
    {
        double dropout = options.DropRate ?? 0.5;
        features = MakeLayers(config, batchNorm, options.InChannels, _featureInfo);
        avgpool = AdaptiveAvgPool2d([7, 7]);
        classifier = Sequential(
            Linear(512 * 7 * 7, HiddenWidth),
            ReLU(inplace: true),
            Dropout(dropout),
            Linear(HiddenWidth, HiddenWidth),
            ReLU(inplace: true),
            Dropout(dropout),
            Linear(HiddenWidth, options.NumClasses));
        RegisterComponents();
        this.Initialize(InitPolicy.KaimingFanOutRelu);
    }

    /// <summary>torchvision's make_layers: Conv2d(3×3, padding 1)[, BatchNorm2d], ReLU per channel count; MaxPool2d(2, 2) per M.</summary>
    static Sequential MakeLayers(int[] config, bool batchNorm, long inChannels, List<FeatureInfo> featureInfo)
    {
        var layers = new List<Module<Tensor, Tensor>>();
        long stride = 1;
        foreach (int v in config)
        {
            if (v == M)
            {
                layers.Add(MaxPool2d(2, stride: 2));
                stride *= 2;
                featureInfo.Add(new($"features.{layers.Count - 1}", inChannels, stride));
                continue;
            }
            layers.Add(Conv2d(inChannels, v, 3, padding: 1));
            if (batchNorm) layers.Add(BatchNorm2d(v));
            layers.Add(ReLU(inplace: true));
            inChannels = v;
        }
        return Sequential(layers);
    }

    public override Tensor ForwardFeatures(Tensor x)
    {
        using var scope = NewDisposeScope();
        return features.call(x).MoveToOuterDisposeScope();
    }

    public override Tensor ForwardHead(Tensor features, bool preLogits = false)
    {
        using var scope = NewDisposeScope();
        var x = avgpool.call(features).flatten(1);
        if (!preLogits) return classifier.call(x).MoveToOuterDisposeScope();
        for (int i = 0; i < LastLinear; i++) x = classifier[i].call(x);
        return x.MoveToOuterDisposeScope();
    }

    public override long NumFeatures => HiddenWidth;
    public override long NumClasses => ((Linear)classifier[LastLinear]).out_features;
    public override string ClassifierPath => $"classifier.{LastLinear}";
    public override string FirstConvPath => "features.0";

    public override void ResetClassifier(long numClasses)
    {
        var fresh = Linear(HiddenWidth, numClasses);
        fresh.Initialize(InitPolicy.KaimingFanOutRelu);
        classifier = ChildModules.ReplaceInSequential(this, "classifier", classifier, LastLinear, fresh);
    }

    public override IReadOnlyList<FeatureInfo> FeatureInfo => _featureInfo;

    /// <summary>The named variants, as torchvision's builders define them.</summary>
    internal static IEnumerable<ModelZoo.Entry> Variants =>
    [
        Variant("vgg11", ConfigA, false),
        Variant("vgg11_bn", ConfigA, true),
        Variant("vgg13", ConfigB, false),
        Variant("vgg13_bn", ConfigB, true),
        Variant("vgg16", ConfigD, false),
        Variant("vgg16_bn", ConfigD, true),
        Variant("vgg19", ConfigE, false),
        Variant("vgg19_bn", ConfigE, true),
    ];

    static ModelZoo.Entry Variant(string name, int[] config, bool batchNorm) =>
        new(name, "vgg", options => new Vgg(config, batchNorm, options));
}
