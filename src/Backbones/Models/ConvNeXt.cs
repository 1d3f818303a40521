using Backbones.Init;
using Backbones.Models.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Backbones.Models;

/// <summary>
/// ConvNeXt tiny/small/base/large as torchvision 0.14 builds them ("A ConvNet for the 2020s", Liu et al. 2022): a 4×4
/// patchify stem, four stages of depthwise 7×7 + inverted-MLP blocks with layer scale, LayerNorm + 2×2 downsampling.
/// </summary>
public sealed class ConvNeXt : Backbone
{
    /// <summary>dwconv 7×7, LayerNorm over channels (NHWC), Linear ×4, GELU, Linear, times layer_scale, plus the input.</summary>
    public sealed class CNBlock : Module<Tensor, Tensor>
    {
        readonly Sequential block;
        readonly Parameter layer_scale;
        readonly StochasticDepth stochastic_depth;

        public CNBlock(long dim, double layerScale, double stochasticDepthProb) : base(nameof(CNBlock))
        {
            block = Sequential(
                Conv2d(dim, dim, 7, padding: 3, groups: dim, bias: true),
                new Permute(0, 2, 3, 1),
                LayerNorm(dim, eps: 1e-6),
                Linear(dim, 4 * dim),
                GELU(),
                Linear(4 * dim, dim),
                new Permute(0, 3, 1, 2));
            layer_scale = new Parameter(full(dim, 1, 1, layerScale));
            stochastic_depth = new StochasticDepth(stochasticDepthProb, StochasticDepth.Mode.Row);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var result = stochastic_depth.call(layer_scale * block.call(x));
            return result.add_(x).MoveToOuterDisposeScope();
        }
    }

    /// <summary>One stage: its width, the next stage's width (null for the last), and its depth.</summary>
    public sealed record StageConfig(long InputChannels, long? OutChannels, int NumLayers);

    readonly Sequential features;
    readonly AdaptiveAvgPool2d avgpool;
    Sequential classifier;
    readonly Dropout? head_drop;

    readonly long _numFeatures;
    readonly List<FeatureInfo> _featureInfo = [];

    public ConvNeXt(StageConfig[] stages, double stochasticDepthProb, ModelOptions options, double layerScale = 1e-6)
        : base(nameof(ConvNeXt))
    {
        double sdProb = options.DropPathRate ?? stochasticDepthProb;
        var layers = new List<Module<Tensor, Tensor>>
        {
            new Conv2dNormActivation(options.InChannels, stages[0].InputChannels, 4, 4, 1, Norm, null, padding: 0, bias: true),
        };
        int totalBlocks = stages.Sum(s => s.NumLayers), blockId = 0;
        long reduction = 4;
        foreach (var cnf in stages)
        {
            var stage = new List<Module<Tensor, Tensor>>();
            for (int i = 0; i < cnf.NumLayers; i++)
            {
                double sd = sdProb * blockId / (totalBlocks - 1.0);
                stage.Add(new CNBlock(cnf.InputChannels, layerScale, sd));
                blockId++;
            }
            _featureInfo.Add(new($"features.{layers.Count}", cnf.InputChannels, reduction));
            layers.Add(Sequential(stage));
            if (cnf.OutChannels is long next)
            {
                layers.Add(Sequential(Norm(cnf.InputChannels), Conv2d(cnf.InputChannels, next, 2, stride: 2, padding: 0L)));
                reduction *= 2;
            }
        }
        _numFeatures = stages[^1].OutChannels ?? stages[^1].InputChannels;

        features = Sequential(layers);
        avgpool = AdaptiveAvgPool2d(1);
        classifier = Sequential(Norm(_numFeatures), Flatten(1), Linear(_numFeatures, options.NumClasses)); // initialised below, in torchvision's order
        // torchvision's ConvNeXt has no dropout before the classifier; DropRate adds one (as timm's head_drop), keyless.
        if (options.DropRate is > 0) head_drop = Dropout(options.DropRate.Value);
        RegisterComponents();
        this.Initialize(InitPolicy.TorchvisionConvNeXt);
    }

    static LayerNorm2d Norm(long channels) => new(channels, eps: 1e-6);

    static Linear NewLinear(long inFeatures, long outFeatures)
    {
        var linear = Linear(inFeatures, outFeatures);
        linear.Initialize(InitPolicy.TorchvisionConvNeXt);
        return linear;
    }

    public override Tensor ForwardFeatures(Tensor x) => features.call(x);

    public override Tensor ForwardHead(Tensor features, bool preLogits = false)
    {
        using var scope = NewDisposeScope();
        if (head_drop is null && !preLogits) return classifier.call(avgpool.call(features)).MoveToOuterDisposeScope();
        var x = classifier[1].call(classifier[0].call(avgpool.call(features)));
        if (head_drop is not null) x = head_drop.call(x);
        return (preLogits ? x : classifier[2].call(x)).MoveToOuterDisposeScope();
    }

    public override long NumFeatures => _numFeatures;
    public override long NumClasses => ((Linear)classifier[2]).out_features;
    public override string ClassifierPath => "classifier.2";
    public override string FirstConvPath => "features.0.0";

    // The LayerNorm before the linear layer is trained with the body and stays; only the linear layer is new.
    public override void ResetClassifier(long numClasses) =>
        classifier = ChildModules.ReplaceInSequential(this, "classifier", classifier, 2, NewLinear(_numFeatures, numClasses));

    public override IReadOnlyList<FeatureInfo> FeatureInfo => _featureInfo;

    /// <summary>The named variants: stage widths and depths, and stochastic depth, from torchvision's builders.</summary>
    internal static IEnumerable<ModelZoo.Entry> Variants =>
    [
        Variant("convnext_tiny", [96, 192, 384, 768], [3, 3, 9, 3], 0.1),
        Variant("convnext_small", [96, 192, 384, 768], [3, 3, 27, 3], 0.4),
        Variant("convnext_base", [128, 256, 512, 1024], [3, 3, 27, 3], 0.5),
        Variant("convnext_large", [192, 384, 768, 1536], [3, 3, 27, 3], 0.5),
    ];

    static ModelZoo.Entry Variant(string name, long[] widths, int[] depths, double stochasticDepthProb) =>
        new(name, "convnext", options => new ConvNeXt(
            [.. widths.Select((w, i) => new StageConfig(w, i + 1 < widths.Length ? widths[i + 1] : null, depths[i]))],
            stochasticDepthProb, options));
}
