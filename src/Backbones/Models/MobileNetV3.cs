using Backbones.Init;
using Backbones.Models.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Backbones.Models;

/// <summary>
/// MobileNet V3 Large and Small as torchvision 0.14 builds them ("Searching for MobileNetV3", Howard et al. 2019):
/// inverted residuals with squeeze-excitation and hard-swish where the searched table says, then a linear head.
/// </summary>
public sealed class MobileNetV3 : Backbone
{
    /// <summary>One row of the paper's tables 1 and 2 (torchvision's InvertedResidualConfig, width 1, no dilation).</summary>
    public sealed record BlockConfig(long InputChannels, long Kernel, long ExpandedChannels, long OutChannels, bool UseSe, bool UseHs, long Stride);

    /// <summary>1×1 expand (when widened), k×k depthwise, optional squeeze-excitation, 1×1 linear projection.</summary>
    public sealed class InvertedResidual : Module<Tensor, Tensor>
    {
        readonly Sequential block;
        readonly bool _useResConnect;

        public InvertedResidual(BlockConfig cnf) : base(nameof(InvertedResidual))
        {
            if (cnf.Stride is not (1 or 2)) throw new ArgumentException("illegal stride value");
            _useResConnect = cnf.Stride == 1 && cnf.InputChannels == cnf.OutChannels;
            Func<Module<Tensor, Tensor>> act = cnf.UseHs ? HardSwish : Relu;
            var layers = new List<Module<Tensor, Tensor>>();
            if (cnf.ExpandedChannels != cnf.InputChannels)
                layers.Add(new Conv2dNormActivation(cnf.InputChannels, cnf.ExpandedChannels, 1, 1, 1, Norm, act));
            layers.Add(new Conv2dNormActivation(cnf.ExpandedChannels, cnf.ExpandedChannels, cnf.Kernel, cnf.Stride, cnf.ExpandedChannels, Norm, act));
            if (cnf.UseSe)
                layers.Add(new SqueezeExcitation(cnf.ExpandedChannels, MakeDivisible.Of(cnf.ExpandedChannels / 4), () => ReLU(), () => Hardsigmoid()));
            layers.Add(new Conv2dNormActivation(cnf.ExpandedChannels, cnf.OutChannels, 1, 1, 1, Norm, null));
            block = Sequential(layers);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var y = block.call(x);
            if (_useResConnect) y.add_(x);
            return y.MoveToOuterDisposeScope();
        }
    }

    // torchvision: partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
    static Module<Tensor, Tensor> Norm(long channels) => BatchNorm2d(channels, eps: 0.001, momentum: 0.01);
    static Module<Tensor, Tensor> HardSwish() => Hardswish(inplace: true);
    static Module<Tensor, Tensor> Relu() => ReLU(inplace: true);

    readonly Sequential features;
    readonly AdaptiveAvgPool2d avgpool;
    Sequential classifier;

    readonly long _lastChannel;
    readonly List<FeatureInfo> _featureInfo = [];

    public MobileNetV3(BlockConfig[] setting, long lastChannel, ModelOptions options) : base(nameof(MobileNetV3))
    {
        _lastChannel = lastChannel;
        long firstConvOutput = setting[0].InputChannels;
        var layers = new List<Module<Tensor, Tensor>> { new Conv2dNormActivation(options.InChannels, firstConvOutput, 3, 2, 1, Norm, HardSwish) };
        // features.N, with the channels it outputs and the total stride after it
        var levels = new List<(long Channels, long Reduction)> { (firstConvOutput, 2) };
        long reduction = 2;
        foreach (var cnf in setting)
        {
            layers.Add(new InvertedResidual(cnf));
            reduction *= cnf.Stride;
            levels.Add((cnf.OutChannels, reduction));
        }
        long lastConvInput = setting[^1].OutChannels, lastConvOutput = 6 * lastConvInput;
        layers.Add(new Conv2dNormActivation(lastConvInput, lastConvOutput, 1, 1, 1, Norm, HardSwish));
        levels.Add((lastConvOutput, reduction));

        features = Sequential(layers);
        avgpool = AdaptiveAvgPool2d(1);
        classifier = Sequential(
            Linear(lastConvOutput, lastChannel),
            Hardswish(inplace: true),
            Dropout(options.DropRate ?? 0.2, inplace: true),
            Linear(lastChannel, options.NumClasses));
        RegisterComponents();

        for (int i = 0; i < levels.Count; i++)
            if (i == levels.Count - 1 || levels[i + 1].Reduction != levels[i].Reduction)
                _featureInfo.Add(new FeatureInfo($"features.{i}", levels[i].Channels, levels[i].Reduction));
        this.Initialize(InitPolicy.KaimingFanOutRelu);
    }

    public override Tensor ForwardFeatures(Tensor x) => features.call(x);

    public override Tensor ForwardHead(Tensor features, bool preLogits = false)
    {
        using var scope = NewDisposeScope();
        return MobileNetV2.RunClassifier(classifier, avgpool.call(features).flatten(1), preLogits).MoveToOuterDisposeScope();
    }

    Linear Head => (Linear)classifier[^1];

    public override long NumFeatures => _lastChannel;
    public override long NumClasses => Head.out_features;
    public override string ClassifierPath => "classifier.3";
    public override string FirstConvPath => "features.0.0";

    public override void ResetClassifier(long numClasses) =>
        classifier = MobileNetV2.ReplaceLast(this, "classifier", classifier, Linear(NumFeatures, numClasses));

    public override IReadOnlyList<FeatureInfo> FeatureInfo => _featureInfo;

    static BlockConfig B(long inp, long k, long exp, long outp, bool se, string act, long s) => new(inp, k, exp, outp, se, act == "HS", s);

    static readonly BlockConfig[] Large =
    [
        B(16, 3, 16, 16, false, "RE", 1),
        B(16, 3, 64, 24, false, "RE", 2),
        B(24, 3, 72, 24, false, "RE", 1),
        B(24, 5, 72, 40, true, "RE", 2),
        B(40, 5, 120, 40, true, "RE", 1),
        B(40, 5, 120, 40, true, "RE", 1),
        B(40, 3, 240, 80, false, "HS", 2),
        B(80, 3, 200, 80, false, "HS", 1),
        B(80, 3, 184, 80, false, "HS", 1),
        B(80, 3, 184, 80, false, "HS", 1),
        B(80, 3, 480, 112, true, "HS", 1),
        B(112, 3, 672, 112, true, "HS", 1),
        B(112, 5, 672, 160, true, "HS", 2),
        B(160, 5, 960, 160, true, "HS", 1),
        B(160, 5, 960, 160, true, "HS", 1),
    ];

    static readonly BlockConfig[] Small =
    [
        B(16, 3, 16, 16, true, "RE", 2),
        B(16, 3, 72, 24, false, "RE", 2),
        B(24, 3, 88, 24, false, "RE", 1),
        B(24, 5, 96, 40, true, "HS", 2),
        B(40, 5, 240, 40, true, "HS", 1),
        B(40, 5, 240, 40, true, "HS", 1),
        B(40, 5, 120, 48, true, "HS", 1),
        B(48, 5, 144, 48, true, "HS", 1),
        B(48, 5, 288, 96, true, "HS", 2),
        B(96, 5, 576, 96, true, "HS", 1),
        B(96, 5, 576, 96, true, "HS", 1),
    ];

    internal static IEnumerable<ModelZoo.Entry> Variants =>
    [
        new("mobilenet_v3_large", "mobilenetv3", options => new MobileNetV3(Large, MakeDivisible.Of(1280), options)),
        new("mobilenet_v3_small", "mobilenetv3", options => new MobileNetV3(Small, MakeDivisible.Of(1024), options)),
    ];
}
