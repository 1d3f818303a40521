using System.Text.RegularExpressions;
using Backbones.Init;
using Backbones.Serialization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Backbones.Models;

/// <summary>
/// DenseNet-BC as torchvision 0.14 builds it ("Densely Connected Convolutional Networks", Huang et al. 2016): a 7×7
/// stem, four dense blocks joined by halving transitions, a final BatchNorm, ReLU, global average pooling, a linear
/// classifier. <see cref="ModelOptions.DropRate"/> is torchvision's <c>drop_rate</c>, the dropout after each dense layer.
/// </summary>
public sealed partial class DenseNet : Backbone
{
    /// <summary>BN-ReLU-1×1 conv to <c>bn_size·k</c> channels, BN-ReLU-3×3 conv to <c>k</c> new channels (then dropout).</summary>
    public sealed class DenseLayer : Module<Tensor, Tensor>
    {
        readonly BatchNorm2d norm1;
        readonly ReLU relu1;
        readonly Conv2d conv1;
        readonly BatchNorm2d norm2;
        readonly ReLU relu2;
        readonly Conv2d conv2;
        readonly double _dropRate;

        public DenseLayer(long inputFeatures, long growthRate, long bnSize, double dropRate) : base(nameof(DenseLayer))
        {
            norm1 = BatchNorm2d(inputFeatures);
            relu1 = ReLU(inplace: true);
            conv1 = Conv2d(inputFeatures, bnSize * growthRate, 1, bias: false);
            norm2 = BatchNorm2d(bnSize * growthRate);
            relu2 = ReLU(inplace: true);
            conv2 = Conv2d(bnSize * growthRate, growthRate, 3, padding: 1, bias: false);
            _dropRate = dropRate;
            RegisterComponents();
        }

        /// <summary>
        /// <paramref name="x"/> is the concatenation of the block's input and all earlier layers' outputs (torchvision
        /// passes the list and concatenates inside; the arithmetic is the same). Returns only the new channels.
        /// </summary>
        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var y = conv1.call(relu1.call(norm1.call(x)));
            y = conv2.call(relu2.call(norm2.call(y)));
            if (_dropRate > 0) y = functional.dropout(y, _dropRate, training);
            return y.MoveToOuterDisposeScope();
        }
    }

    /// <summary><c>denselayer1..N</c>; each sees every earlier feature map; returns all of them concatenated.</summary>
    public sealed class DenseBlock : Module<Tensor, Tensor>
    {
        readonly DenseLayer[] _layers;

        public DenseBlock(int numLayers, long inputFeatures, long bnSize, long growthRate, double dropRate) : base(nameof(DenseBlock))
        {
            _layers = new DenseLayer[numLayers];
            for (int i = 0; i < numLayers; i++)
            {
                _layers[i] = new DenseLayer(inputFeatures + i * growthRate, growthRate, bnSize, dropRate);
                register_module($"denselayer{i + 1}", _layers[i]);
            }
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var features = new List<Tensor>(_layers.Length + 1) { x };
            foreach (var layer in _layers)
            {
                using var concatenated = cat(features, 1);
                features.Add(layer.call(concatenated));
            }
            return cat(features, 1).MoveToOuterDisposeScope();
        }
    }

    /// <summary>BN-ReLU-1×1 conv halving the channels, 2×2 average pooling (torchvision's <c>_Transition</c>, a Sequential).</summary>
    public sealed class Transition(long inputFeatures, long outputFeatures) : Sequential(
        ("norm", BatchNorm2d(inputFeatures)),
        ("relu", ReLU(inplace: true)),
        ("conv", Conv2d(inputFeatures, outputFeatures, 1, bias: false)),
        ("pool", AvgPool2d(2, stride: 2)));

    readonly Sequential features;
    Linear classifier;

    readonly long _numFeatures;
    readonly FeatureInfo[] _featureInfo;

    public DenseNet(long growthRate, int[] blockConfig, long numInitFeatures, ModelOptions options, long bnSize = 4) : base(nameof(DenseNet))
    {
        if (blockConfig.Length != 4) throw new ArgumentException("DenseNet needs four block depths", nameof(blockConfig));
        double dropRate = options.DropRate ?? 0;
        var modules = new List<(string, Module<Tensor, Tensor>)>
        {
            ("conv0", Conv2d(options.InChannels, numInitFeatures, 7, stride: 2, padding: 3, bias: false)),
            ("norm0", BatchNorm2d(numInitFeatures)),
            ("relu0", ReLU(inplace: true)),
            ("pool0", MaxPool2d(3, stride: 2, padding: 1)),
        };
        var info = new List<FeatureInfo>();
        long numFeatures = numInitFeatures, reduction = 4;
        for (int i = 0; i < blockConfig.Length; i++)
        {
            modules.Add(($"denseblock{i + 1}", new DenseBlock(blockConfig[i], numFeatures, bnSize, growthRate, dropRate)));
            numFeatures += blockConfig[i] * growthRate;
            info.Add(new($"features.denseblock{i + 1}", numFeatures, reduction));
            if (i != blockConfig.Length - 1)
            {
                modules.Add(($"transition{i + 1}", new Transition(numFeatures, numFeatures / 2)));
                numFeatures /= 2;
                reduction *= 2;
            }
        }
        modules.Add(("norm5", BatchNorm2d(numFeatures)));
        features = Sequential(modules.ToArray());
        classifier = Linear(numFeatures, options.NumClasses);
        RegisterComponents();

        _numFeatures = numFeatures;
        _featureInfo = info.ToArray();
        this.Initialize(InitPolicy.TorchvisionDenseNet);
    }

    /// <summary>The output of <c>features</c>: <c>norm5</c>'s, before the final ReLU (which <see cref="ForwardHead"/> applies).</summary>
    public override Tensor ForwardFeatures(Tensor x) => features.call(x);

    public override Tensor ForwardHead(Tensor features, bool preLogits = false)
    {
        using var scope = NewDisposeScope();
        var x = functional.adaptive_avg_pool2d(functional.relu(features), 1).flatten(1);
        return (preLogits ? x : classifier.call(x)).MoveToOuterDisposeScope();
    }

    public override long NumFeatures => _numFeatures;
    public override long NumClasses => classifier.out_features;
    public override string ClassifierPath => "classifier";
    public override string FirstConvPath => "features.conv0";

    /// <summary>A new classifier as torchvision would build it for <paramref name="numClasses"/>: default weight, bias 0.</summary>
    public override void ResetClassifier(long numClasses)
    {
        var old = classifier;
        classifier = Linear(NumFeatures, numClasses);
        using (no_grad()) init.zeros_(classifier.bias!);
        ChildModules.Replace(this, "classifier", classifier);
        old.Dispose();
    }

    /// <summary>
    /// Each dense block's output (all its channels concatenated), before the transition that follows it; strides 4,
    /// 8, 16, 32. The last level is <c>denseblock4</c>'s output, before <c>norm5</c> and the final ReLU.
    /// </summary>
    public override IReadOnlyList<FeatureInfo> FeatureInfo => _featureInfo;

    /// <summary>
    /// torchvision's fix for its original DenseNet checkpoints (<c>_load_state_dict</c>): dense layers' children were
    /// once named <c>norm.1</c>, <c>relu.1</c>, <c>conv.1</c>, <c>norm.2</c>, ...; <c>denselayer1.norm.1.weight</c> becomes
    /// <c>denselayer1.norm1.weight</c>. Only weight, bias and running statistics are renamed, exactly as torchvision does.
    /// </summary>
    public override IReadOnlyList<(string From, string To)> RemapCheckpointKeys(StateDict state) =>
        state.RenameWhere(key => OldLayerKey().Match(key) is { Success: true } m ? m.Groups[1].Value + m.Groups[2].Value : null);

    [GeneratedRegex(@"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$", RegexOptions.CultureInvariant)]
    private static partial Regex OldLayerKey();

    /// <summary>The named variants, as torchvision's builders define them: growth rate, block depths, stem width.</summary>
    internal static IEnumerable<ModelZoo.Entry> Variants =>
    [
        Variant("densenet121", 32, [6, 12, 24, 16], 64),
        Variant("densenet161", 48, [6, 12, 36, 24], 96),
        Variant("densenet169", 32, [6, 12, 32, 32], 64),
        Variant("densenet201", 32, [6, 12, 48, 32], 64),
    ];

    static ModelZoo.Entry Variant(string name, long growthRate, int[] blockConfig, long numInitFeatures) =>
        new(name, "densenet", options => new DenseNet(growthRate, blockConfig, numInitFeatures, options));
}
