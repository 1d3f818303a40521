using Backbones.Init;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Backbones.Models;

/// <summary>
/// ResNet, ResNeXt and Wide ResNet as torchvision 0.14 builds them ("Deep Residual Learning", He et al. 2015):
/// a 7×7 stem, four stages of basic or bottleneck blocks, global average pooling and a linear classifier.
/// </summary>
public sealed class ResNet : Backbone
{
    /// <summary>Two 3×3 convolutions (ResNet-18/34).</summary>
    public sealed class BasicBlock : Module<Tensor, Tensor>
    {
        public const int Expansion = 1;
        // Declaration order is registration order, which is state-dict order: torchvision's.
        readonly Conv2d conv1;
        readonly Module<Tensor, Tensor> bn1;
        readonly ReLU relu;
        readonly Conv2d conv2;
        readonly Module<Tensor, Tensor> bn2;
        readonly Sequential? downsample;

        /// <param name="norm">Builds the norm layers (torchvision's norm_layer); null for BatchNorm2d.</param>
        public BasicBlock(long inplanes, long planes, long stride, Sequential? downsample, long groups, long baseWidth, long dilation,
            Func<long, Module<Tensor, Tensor>>? norm = null)
            : base(nameof(BasicBlock))
        {
            if (groups != 1 || baseWidth != 64) throw new ArgumentException("BasicBlock only supports groups=1 and base_width=64");
            if (dilation > 1) throw new ArgumentException("dilation > 1 is not supported in BasicBlock (as in torchvision)");
            norm ??= Norm;
            conv1 = Conv2d(inplanes, planes, 3, stride: stride, padding: 1, bias: false);
            bn1 = norm(planes);
            relu = ReLU(inplace: true);
            conv2 = Conv2d(planes, planes, 3, padding: 1, bias: false);
            bn2 = norm(planes);
            this.downsample = downsample;
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var y = relu.call(bn1.call(conv1.call(x)));
            y = bn2.call(conv2.call(y));
            var identity = downsample is null ? x : downsample.call(x);
            return relu.call(y.add_(identity)).MoveToOuterDisposeScope();
        }
    }

    /// <summary>1×1 reduce, 3×3 (grouped, dilated), 1×1 expand ×4 (ResNet-50 and deeper, ResNeXt, Wide ResNet).</summary>
    public sealed class Bottleneck : Module<Tensor, Tensor>
    {
        public const int Expansion = 4;
        readonly Conv2d conv1;
        readonly Module<Tensor, Tensor> bn1;
        readonly Conv2d conv2;
        readonly Module<Tensor, Tensor> bn2;
        readonly Conv2d conv3;
        readonly Module<Tensor, Tensor> bn3;
        readonly ReLU relu;
        readonly Sequential? downsample;

        /// <param name="norm">Builds the norm layers (torchvision's norm_layer); null for BatchNorm2d.</param>
        public Bottleneck(long inplanes, long planes, long stride, Sequential? downsample, long groups, long baseWidth, long dilation,
            Func<long, Module<Tensor, Tensor>>? norm = null)
            : base(nameof(Bottleneck))
        {
            long width = (long)(planes * (baseWidth / 64.0)) * groups;
            norm ??= Norm;
            conv1 = Conv2d(inplanes, width, 1, bias: false);
            bn1 = norm(width);
            conv2 = Conv2d(width, width, 3, stride: stride, padding: dilation, dilation: dilation, groups: groups, bias: false);
            bn2 = norm(width);
            conv3 = Conv2d(width, planes * Expansion, 1, bias: false);
            bn3 = norm(planes * Expansion);
            relu = ReLU(inplace: true);
            this.downsample = downsample;
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var y = relu.call(bn1.call(conv1.call(x)));
            y = relu.call(bn2.call(conv2.call(y)));
            y = bn3.call(conv3.call(y));
            var identity = downsample is null ? x : downsample.call(x);
            return relu.call(y.add_(identity)).MoveToOuterDisposeScope();
        }
    }

    public enum BlockKind { Basic, Bottleneck }

    Conv2d conv1;
    readonly Module<Tensor, Tensor> bn1;
    readonly ReLU relu;
    readonly MaxPool2d maxpool;
    readonly Sequential layer1, layer2, layer3, layer4;
    readonly AdaptiveAvgPool2d avgpool;
    readonly Dropout? dropout;
    Linear fc;

    readonly int _expansion;
    readonly long _stemWidth;
    long[] _reductions;

    /// <param name="stemWidth">
    /// Channels of the stem and of layer1's blocks, doubled per stage (torchvision: 64). Narrower ResNets (16 for a
    /// quarter-width network) are not torchvision models, but keep its keys and structure.
    /// </param>
    public ResNet(BlockKind kind, int[] layers, ModelOptions options, long groups = 1, long widthPerGroup = 64, long stemWidth = 64) : base(nameof(ResNet))
    {
        if (stemWidth < 1) throw new ArgumentOutOfRangeException(nameof(stemWidth), stemWidth, "a ResNet needs at least one stem channel");
        _stemWidth = stemWidth;
        _expansion = kind == BlockKind.Basic ? BasicBlock.Expansion : Bottleneck.Expansion;
        var dilate = options.ReplaceStrideWithDilation ?? [false, false, false];
        if (dilate.Length != 3) throw new ArgumentException("ReplaceStrideWithDilation needs three values (layer2, layer3, layer4)");
        var norm = options.NormLayer ?? Norm;

        long inplanes = stemWidth, dilation = 1;
        Sequential MakeLayer(long planes, int blocks, long stride, bool dilateStage)
        {
            long previousDilation = dilation;
            if (dilateStage)
            {
                dilation *= stride;
                stride = 1;
            }
            Sequential? downsample = null;
            if (stride != 1 || inplanes != planes * _expansion)
                downsample = Sequential(Conv2d(inplanes, planes * _expansion, 1, stride: stride, bias: false), norm(planes * _expansion));
            var modules = new List<Module<Tensor, Tensor>> { Block(kind, inplanes, planes, stride, downsample, groups, widthPerGroup, previousDilation, norm) };
            inplanes = planes * _expansion;
            for (int i = 1; i < blocks; i++) modules.Add(Block(kind, inplanes, planes, 1, null, groups, widthPerGroup, dilation, norm));
            return Sequential(modules);
        }

        conv1 = Conv2d(options.InChannels, stemWidth, 7, stride: 2, padding: 3, bias: false);
        bn1 = norm(stemWidth);
        relu = ReLU(inplace: true);
        maxpool = MaxPool2d(3, stride: 2, padding: 1);
        layer1 = MakeLayer(stemWidth, layers[0], 1, false);
        layer2 = MakeLayer(2 * stemWidth, layers[1], 2, dilate[0]);
        layer3 = MakeLayer(4 * stemWidth, layers[2], 2, dilate[1]);
        layer4 = MakeLayer(8 * stemWidth, layers[3], 2, dilate[2]);
        avgpool = AdaptiveAvgPool2d(1);
        if (options.DropRate is > 0) dropout = Dropout(options.DropRate.Value);
        fc = Linear(NumFeatures, options.NumClasses);
        RegisterComponents();

        _reductions = [4, dilate[0] ? 4 : 8, 0, 0];
        _reductions[2] = dilate[1] ? _reductions[1] : _reductions[1] * 2;
        _reductions[3] = dilate[2] ? _reductions[2] : _reductions[2] * 2;
        this.Initialize(InitPolicy.TorchvisionResNet);
    }

    static Module<Tensor, Tensor> Block(BlockKind kind, long inplanes, long planes, long stride, Sequential? downsample, long groups, long baseWidth, long dilation,
        Func<long, Module<Tensor, Tensor>> norm) =>
        kind == BlockKind.Basic
            ? new BasicBlock(inplanes, planes, stride, downsample, groups, baseWidth, dilation, norm)
            : new Bottleneck(inplanes, planes, stride, downsample, groups, baseWidth, dilation, norm);

    static Module<Tensor, Tensor> Norm(long channels) => BatchNorm2d(channels);

    public override Tensor ForwardFeatures(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = maxpool.call(relu.call(bn1.call(conv1.call(x))));
        x = layer4.call(layer3.call(layer2.call(layer1.call(x))));
        return x.MoveToOuterDisposeScope();
    }

    public override Tensor ForwardHead(Tensor features, bool preLogits = false)
    {
        using var scope = NewDisposeScope();
        var x = avgpool.call(features).flatten(1);
        if (dropout is not null) x = dropout.call(x);
        return (preLogits ? x : fc.call(x)).MoveToOuterDisposeScope();
    }

    public override long NumFeatures => 8 * _stemWidth * _expansion;
    public override long NumClasses => fc.out_features;
    public override string ClassifierPath => "fc";
    public override string FirstConvPath => "conv1";

    public override void ResetClassifier(long numClasses)
    {
        var old = fc;
        fc = Linear(NumFeatures, numClasses);
        ChildModules.Replace(this, "fc", fc);
        old.Dispose();
    }

    /// <summary>Output-stride surgery (Transfer.OutputStride) changed the strides: the stages' total strides after it.</summary>
    internal void SetReductions(long[] reductions) => _reductions = reductions;

    public override IReadOnlyList<FeatureInfo> FeatureInfo =>
    [
        new("layer1", _stemWidth * _expansion, _reductions[0]),
        new("layer2", 2 * _stemWidth * _expansion, _reductions[1]),
        new("layer3", 4 * _stemWidth * _expansion, _reductions[2]),
        new("layer4", 8 * _stemWidth * _expansion, _reductions[3]),
    ];

    /// <summary>The named variants, as torchvision's builders define them.</summary>
    internal static IEnumerable<ModelZoo.Entry> Variants =>
    [
        Variant("resnet18", BlockKind.Basic, [2, 2, 2, 2]),
        Variant("resnet34", BlockKind.Basic, [3, 4, 6, 3]),
        Variant("resnet50", BlockKind.Bottleneck, [3, 4, 6, 3]),
        Variant("resnet101", BlockKind.Bottleneck, [3, 4, 23, 3]),
        Variant("resnet152", BlockKind.Bottleneck, [3, 8, 36, 3]),
        Variant("resnext50_32x4d", BlockKind.Bottleneck, [3, 4, 6, 3], groups: 32, width: 4),
        Variant("resnext101_32x8d", BlockKind.Bottleneck, [3, 4, 23, 3], groups: 32, width: 8),
        Variant("resnext101_64x4d", BlockKind.Bottleneck, [3, 4, 23, 3], groups: 64, width: 4),
        Variant("wide_resnet50_2", BlockKind.Bottleneck, [3, 4, 6, 3], width: 128),
        Variant("wide_resnet101_2", BlockKind.Bottleneck, [3, 4, 23, 3], width: 128),
    ];

    static ModelZoo.Entry Variant(string name, BlockKind kind, int[] layers, long groups = 1, long width = 64) =>
        new(name, "resnet", options => new ResNet(kind, layers, options, groups, width));
}
