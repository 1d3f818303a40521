using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Backbones.Models;

/// <summary>
/// AlexNet as torchvision 0.14 builds it (the one-GPU variant of "One weird trick", Krizhevsky 2014): five
/// convolutions with three overlapping max-pools, a 6×6 adaptive pool and three linear layers with dropout.
/// </summary>
public sealed class AlexNet : Backbone
{
    const long HiddenWidth = 4096;
    const int LastLinear = 6;

    readonly Sequential features;
    readonly AdaptiveAvgPool2d avgpool;
    Sequential classifier;

    /// <summary>Layers keep PyTorch's default initialisation, as torchvision's AlexNet does.</summary>
    public AlexNet(ModelOptions options) : base(nameof(AlexNet))
    {
        double dropout = options.DropRate ?? 0.5;
        features = Sequential(
            Conv2d(options.InChannels, 64, 11, stride: 4, padding: 2),
            ReLU(inplace: true),
            MaxPool2d(3, stride: 2),
            Conv2d(64, 192, 5, padding: 2),
            ReLU(inplace: true),
            MaxPool2d(3, stride: 2),
            Conv2d(192, 384, 3, padding: 1),
            ReLU(inplace: true),
            Conv2d(384, 256, 3, padding: 1),
            ReLU(inplace: true),
            Conv2d(256, 256, 3, padding: 1),
            ReLU(inplace: true),
            MaxPool2d(3, stride: 2));
        avgpool = AdaptiveAvgPool2d([6, 6]);
        classifier = Sequential(
            Dropout(dropout),
            Linear(256 * 6 * 6, HiddenWidth),
            ReLU(inplace: true),
            Dropout(dropout),
            Linear(HiddenWidth, HiddenWidth),
            ReLU(inplace: true),
            Linear(HiddenWidth, options.NumClasses));
        RegisterComponents();
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

    public override void ResetClassifier(long numClasses) =>
        classifier = ChildModules.ReplaceInSequential(this, "classifier", classifier, LastLinear, Linear(HiddenWidth, numClasses));

    /// <summary>The three max-pools (the first convolution has stride 4).</summary>
    public override IReadOnlyList<FeatureInfo> FeatureInfo =>
    [
        new("features.2", 64, 8),
        new("features.5", 192, 16),
        new("features.12", 256, 32),
    ];

    internal static IEnumerable<ModelZoo.Entry> Variants =>
    [
        new("alexnet", "alexnet", options => new AlexNet(options)),
    ];
}
