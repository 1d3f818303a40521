using Backbones.Init;
using Backbones.Models.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Backbones.Models;

/// <summary>
/// EfficientNet B0–B7 as torchvision 0.14 builds them ("EfficientNet: Rethinking Model Scaling", Tan &amp; Le 2019):
/// a 3×3 stem, seven stages of MBConv blocks scaled in width and depth, a 1×1 head convolution, pooling, dropout, linear.
/// </summary>
public sealed class EfficientNet : Backbone
{
    /// <summary>Inverted residual: 1×1 expand (if the ratio is not 1), depthwise k×k, squeeze-excitation, 1×1 project.</summary>
    public sealed class MBConv : Module<Tensor, Tensor>
    {
        readonly Sequential block;
        readonly StochasticDepth stochastic_depth;
        readonly bool _useResConnect;

        public MBConv(StageConfig cnf, long inputChannels, long stride, double stochasticDepthProb, Norm norm) : base(nameof(MBConv))
        {
            _useResConnect = stride == 1 && inputChannels == cnf.OutChannels;
            long expanded = AdjustChannels(inputChannels, cnf.ExpandRatio);
            var layers = new List<Module<Tensor, Tensor>>();
            if (expanded != inputChannels) layers.Add(ConvNormActivation(inputChannels, expanded, 1, 1, 1, norm, activation: true));
            layers.Add(ConvNormActivation(expanded, expanded, cnf.Kernel, stride, expanded, norm, activation: true));
            layers.Add(new SqueezeExcitation(expanded, Math.Max(1, inputChannels / 4), () => SiLU(inplace: true), () => Sigmoid()));
            layers.Add(ConvNormActivation(expanded, cnf.OutChannels, 1, 1, 1, norm, activation: false));
            block = Sequential(layers);
            stochastic_depth = new StochasticDepth(stochasticDepthProb, StochasticDepth.Mode.Row);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var result = block.call(x);
            if (_useResConnect) result = stochastic_depth.call(result).add_(x);
            return result.MoveToOuterDisposeScope();
        }
    }

    /// <summary>One row of the paper's Table 1 before scaling: expand ratio, kernel, first stride, channels in/out, blocks.</summary>
    public sealed record StageConfig(double ExpandRatio, long Kernel, long Stride, long InputChannels, long OutChannels, int NumLayers)
    {
        public StageConfig Scale(double widthMult, double depthMult) => this with
        {
            InputChannels = AdjustChannels(InputChannels, widthMult),
            OutChannels = AdjustChannels(OutChannels, widthMult),
            NumLayers = (int)Math.Ceiling(NumLayers * depthMult),
        };
    }

    /// <summary>BatchNorm settings: B0–B4 PyTorch's defaults, B5–B7 eps 1e-3 and momentum 0.01 (the TF-ported weights).</summary>
    public sealed record Norm(double Eps, double Momentum)
    {
        public static Norm Default { get; } = new(1e-5, 0.1);
    }

    static readonly StageConfig[] BaseStages =
    [
        new(1, 3, 1, 32, 16, 1),
        new(6, 3, 2, 16, 24, 2),
        new(6, 5, 2, 24, 40, 2),
        new(6, 3, 2, 40, 80, 3),
        new(6, 5, 1, 80, 112, 3),
        new(6, 5, 2, 112, 192, 4),
        new(6, 3, 1, 192, 320, 1),
    ];

    readonly Sequential features;
    readonly AdaptiveAvgPool2d avgpool;
    Sequential classifier;

    readonly long _numFeatures;
    readonly List<FeatureInfo> _featureInfo = [];

    public EfficientNet(double widthMult, double depthMult, double dropout, ModelOptions options, Norm? norm = null,
        double stochasticDepthProb = 0.2) : base(nameof(EfficientNet))
    {
        norm ??= Norm.Default;
        double dropRate = options.DropRate ?? dropout;
        double sdProb = options.DropPathRate ?? stochasticDepthProb;
        var stages = BaseStages.Select(s => s.Scale(widthMult, depthMult)).ToList();

        var layers = new List<Module<Tensor, Tensor>>
        {
            ConvNormActivation(options.InChannels, stages[0].InputChannels, 3, 2, 1, norm, activation: true),
        };
        int totalBlocks = stages.Sum(s => s.NumLayers), blockId = 0;
        long reduction = 2;
        foreach (var cnf in stages)
        {
            var stage = new List<Module<Tensor, Tensor>>();
            for (int i = 0; i < cnf.NumLayers; i++)
            {
                double sd = sdProb * blockId / totalBlocks;
                stage.Add(new MBConv(cnf, i == 0 ? cnf.InputChannels : cnf.OutChannels, i == 0 ? cnf.Stride : 1, sd, norm));
                blockId++;
            }
            // The deepest output at each stride is that stride's feature level (timm's choice): features.1, 2, 3, 5, 7.
            if (cnf.Stride > 1) reduction *= cnf.Stride;
            if (_featureInfo.Count > 0 && _featureInfo[^1].Reduction == reduction) _featureInfo.RemoveAt(_featureInfo.Count - 1);
            _featureInfo.Add(new($"features.{layers.Count}", cnf.OutChannels, reduction));
            layers.Add(Sequential(stage));
        }
        long lastIn = stages[^1].OutChannels;
        _numFeatures = 4 * lastIn;
        layers.Add(ConvNormActivation(lastIn, _numFeatures, 1, 1, 1, norm, activation: true));

        features = Sequential(layers);
        avgpool = AdaptiveAvgPool2d(1);
        classifier = Classifier(dropRate, _numFeatures, options.NumClasses);
        RegisterComponents();
        this.Initialize(InitPolicy.TorchvisionEfficientNet);
    }

    /// <summary>Conv, this variant's BatchNorm, and SiLU unless it is a linear projection.</summary>
    static Conv2dNormActivation ConvNormActivation(long inChannels, long outChannels, long kernel, long stride, long groups, Norm norm, bool activation) =>
        new(inChannels, outChannels, kernel, stride, groups, c => BatchNorm2d(c, eps: norm.Eps, momentum: norm.Momentum), activation ? () => SiLU(inplace: true) : null);

    // Initialised with the whole model in the constructor (drawing in torchvision's order), on its own when reset.
    static Sequential Classifier(double dropRate, long inFeatures, long numClasses) => Sequential(Dropout(dropRate, inplace: true), Linear(inFeatures, numClasses));

    static long AdjustChannels(long channels, double widthMult) => MakeDivisible.Of(channels * widthMult);

    public override Tensor ForwardFeatures(Tensor x) => features.call(x);

    public override Tensor ForwardHead(Tensor features, bool preLogits = false)
    {
        using var scope = NewDisposeScope();
        var x = avgpool.call(features).flatten(1);
        return (preLogits ? classifier[0].call(x) : classifier.call(x)).MoveToOuterDisposeScope();
    }

    public override long NumFeatures => _numFeatures;
    public override long NumClasses => ((Linear)classifier[1]).out_features;
    public override string ClassifierPath => "classifier.1";
    public override string FirstConvPath => "features.0.0";

    public override void ResetClassifier(long numClasses)
    {
        // Only the linear layer is new: the dropout before it keeps its object and mode.
        var head = Linear(_numFeatures, numClasses);
        head.Initialize(InitPolicy.TorchvisionEfficientNet);
        classifier = ChildModules.ReplaceInSequential(this, "classifier", classifier, 1, head);
    }

    public override IReadOnlyList<FeatureInfo> FeatureInfo => _featureInfo;

    /// <summary>The named variants: width and depth multipliers and dropout from torchvision's builders.</summary>
    internal static IEnumerable<ModelZoo.Entry> Variants =>
    [
        Variant("efficientnet_b0", 1.0, 1.0, 0.2),
        Variant("efficientnet_b1", 1.0, 1.1, 0.2),
        Variant("efficientnet_b2", 1.1, 1.2, 0.3),
        Variant("efficientnet_b3", 1.2, 1.4, 0.3),
        Variant("efficientnet_b4", 1.4, 1.8, 0.4),
        Variant("efficientnet_b5", 1.6, 2.2, 0.4, TfNorm),
        Variant("efficientnet_b6", 1.8, 2.6, 0.5, TfNorm),
        Variant("efficientnet_b7", 2.0, 3.1, 0.5, TfNorm),
    ];

    static readonly Norm TfNorm = new(1e-3, 0.01);

    static ModelZoo.Entry Variant(string name, double width, double depth, double dropout, Norm? norm = null) =>
        new(name, "efficientnet", options => new EfficientNet(width, depth, dropout, options, norm));
}
