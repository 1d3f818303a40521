using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Models;

/// <summary>
/// The contract every architecture of the zoo keeps, as timm's models do: features before pooling, the head on
/// top (optionally stopping before the last linear layer), a replaceable classifier, and per-stage feature info.
/// Module names are torchvision's, so state-dict keys match its checkpoints byte for byte.
/// </summary>
public abstract class Backbone : nn.Module<Tensor, Tensor>
{
    protected Backbone(string name) : base(name) { }

    /// <summary>The registry name this model was built as (resnet50, vgg16_bn, ...).</summary>
    public string Architecture { get; internal set; } = "";

    /// <summary>What loading <see cref="ModelOptions.Weights"/> did, or null when the model has fresh weights.</summary>
    public Transfer.WeightsLoadResult? LoadedWeights { get; internal set; }

    /// <summary>The spatial feature map before global pooling (ResNet-50: 2048 × H/32 × W/32).</summary>
    public abstract Tensor ForwardFeatures(Tensor x);

    /// <summary>Pooling, dropout and classifier; with <paramref name="preLogits"/>, stops before the last linear layer.</summary>
    public abstract Tensor ForwardHead(Tensor features, bool preLogits = false);

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return ForwardHead(ForwardFeatures(x)).MoveToOuterDisposeScope();
    }

    /// <summary>Channels entering the classifier (the pre-logits width).</summary>
    public abstract long NumFeatures { get; }

    /// <summary>Output classes of the classifier.</summary>
    public abstract long NumClasses { get; }

    /// <summary>Module path of the last linear layer (fc, classifier.6, classifier.1, ...).</summary>
    public abstract string ClassifierPath { get; }

    /// <summary>Module path of the first convolution (conv1, features.0, features.conv0, ...).</summary>
    public abstract string FirstConvPath { get; }

    /// <summary>Replaces the classifier with a freshly initialised one for <paramref name="numClasses"/> classes.</summary>
    public abstract void ResetClassifier(long numClasses);

    /// <summary>Per stage: output channels, total stride and module path, shallow to deep.</summary>
    public abstract IReadOnlyList<FeatureInfo> FeatureInfo { get; }

    /// <summary>
    /// Renames old key spellings of this family's checkpoints to today's (torchvision's own remaps, e.g. DenseNet's
    /// <c>norm.1</c> → <c>norm1</c>) before loading; returns the renames made. Most families have none.
    /// </summary>
    public virtual IReadOnlyList<(string From, string To)> RemapCheckpointKeys(Serialization.StateDict state) => [];
}

/// <summary>One feature level of a backbone: what comes out of <see cref="Module"/> and at what stride.</summary>
public sealed record FeatureInfo(string Module, long Channels, long Reduction);
