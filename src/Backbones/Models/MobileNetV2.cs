using Backbones.Init;
using Backbones.Models.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Backbones.Models;

/// <summary>
/// MobileNet V2 as torchvision 0.14 builds it ("MobileNetV2: Inverted Residuals and Linear Bottlenecks", Sandler et
/// al. 2018): a strided 3×3 stem, seventeen inverted residual blocks with ReLU6, a 1×1 conv to 1280, pooling, dropout, linear.
/// </summary>
public sealed class MobileNetV2 : Backbone
{
    /// <summary>1×1 expand (when t ≠ 1), 3×3 depthwise, 1×1 linear projection; a residual when shape is kept.</summary>
    public sealed class InvertedResidual : Module<Tensor, Tensor>
    {
        readonly Sequential conv;
        readonly bool _useResConnect;

        public InvertedResidual(long inp, long oup, long stride, long expandRatio) : base(nameof(InvertedResidual))
        {
            if (stride is not (1 or 2)) throw new ArgumentException($"stride should be 1 or 2, not {stride}");
            long hidden = inp * expandRatio;
            _useResConnect = stride == 1 && inp == oup;
            var layers = new List<Module<Tensor, Tensor>>();
            if (expandRatio != 1) layers.Add(new Conv2dNormActivation(inp, hidden, 1, 1, 1, Norm, Relu6));
            layers.Add(new Conv2dNormActivation(hidden, hidden, 3, stride, hidden, Norm, Relu6));
            layers.Add(Conv2d(hidden, oup, 1, bias: false));
            layers.Add(Norm(oup));
            conv = Sequential(layers);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var y = conv.call(x);
            return (_useResConnect ? x + y : y).MoveToOuterDisposeScope();
        }
    }

    /// <summary>torchvision's table: expansion t, output channels c, repeats n, first stride s.</summary>
    static readonly (long T, long C, int N, long S)[] Setting =
    [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ];

    const long InputChannel = 32, LastChannel = 1280;

    static Module<Tensor, Tensor> Norm(long channels) => BatchNorm2d(channels);
    static Module<Tensor, Tensor> Relu6() => ReLU6(inplace: true);

    readonly Sequential features;
    Sequential classifier;

    readonly List<FeatureInfo> _featureInfo = [];

    public MobileNetV2(ModelOptions options) : base(nameof(MobileNetV2))
    {
        // features.N, with the channels it outputs and the total stride after it
        var layers = new List<Module<Tensor, Tensor>> { new Conv2dNormActivation(options.InChannels, InputChannel, 3, 2, 1, Norm, Relu6) };
        var levels = new List<(long Channels, long Reduction)> { (InputChannel, 2) };
        long input = InputChannel, reduction = 2;
        foreach (var (t, c, n, s) in Setting)
        {
            long output = MakeDivisible.Of(c);
            for (int i = 0; i < n; i++)
            {
                long stride = i == 0 ? s : 1;
                layers.Add(new InvertedResidual(input, output, stride, t));
                reduction *= stride;
                levels.Add((output, reduction));
                input = output;
            }
        }
        layers.Add(new Conv2dNormActivation(input, LastChannel, 1, 1, 1, Norm, Relu6));
        levels.Add((LastChannel, reduction));

        features = Sequential(layers);
        classifier = Sequential(Dropout(options.DropRate ?? 0.2), Linear(LastChannel, options.NumClasses));
        RegisterComponents();

        // the deepest features.N at each stride
        for (int i = 0; i < levels.Count; i++)
            if (i == levels.Count - 1 || levels[i + 1].Reduction != levels[i].Reduction)
                _featureInfo.Add(new FeatureInfo($"features.{i}", levels[i].Channels, levels[i].Reduction));
        this.Initialize(InitPolicy.KaimingFanOutRelu);
    }

    public override Tensor ForwardFeatures(Tensor x) => features.call(x);

    public override Tensor ForwardHead(Tensor features, bool preLogits = false) =>
        RunClassifier(classifier, functional.adaptive_avg_pool2d(features, 1).flatten(1), preLogits);

    /// <summary>Pooled features through a classifier Sequential, stopping before its last (linear) layer if asked.</summary>
    internal static Tensor RunClassifier(Sequential classifier, Tensor pooled, bool preLogits)
    {
        using var scope = NewDisposeScope();
        var x = pooled;
        // Logits through the Sequential itself, so hooks on the classifier fire as in torchvision.
        if (!preLogits) return classifier.call(x).MoveToOuterDisposeScope();
        for (int i = 0; i < classifier.Count - 1; i++) x = classifier[i].call(x);
        return x.MoveToOuterDisposeScope();
    }

    Linear Head => (Linear)classifier[^1];

    public override long NumFeatures => LastChannel;
    public override long NumClasses => Head.out_features;
    public override string ClassifierPath => "classifier.1";
    public override string FirstConvPath => "features.0.0";

    public override void ResetClassifier(long numClasses)
    {
        classifier = ReplaceLast(this, "classifier", classifier, Linear(NumFeatures, numClasses));
    }

    /// <summary>
    /// A classifier Sequential whose last layer is <paramref name="head"/> (initialised as torchvision does) and whose
    /// other layers are the old ones, registered under <paramref name="name"/>; the old last layer is disposed.
    /// </summary>
    internal static Sequential ReplaceLast(Module owner, string name, Sequential old, Linear head)
    {
        head.Initialize(InitPolicy.KaimingFanOutRelu);
        return ChildModules.ReplaceInSequential(owner, name, old, (int)old.Count - 1, head);
    }

    public override IReadOnlyList<FeatureInfo> FeatureInfo => _featureInfo;

    internal static IEnumerable<ModelZoo.Entry> Variants =>
    [
        new("mobilenet_v2", "mobilenetv2", options => new MobileNetV2(options)),
    ];
}
