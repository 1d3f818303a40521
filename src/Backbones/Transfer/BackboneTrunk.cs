using Backbones.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Transfer;

/// <summary>
/// A backbone cut before its head: the spatial feature map before global pooling, or that map globally average-pooled
/// and flattened, with its width (<see cref="OutChannels"/>) and total stride; its state-dict keys are the model's minus the head's.
/// </summary>
/// <remarks>
/// Spatial output is <see cref="Backbone.ForwardFeatures"/> (torchvision's <c>model.features(x)</c>, or ResNet up to
/// <c>layer4</c>). Pooled output is the global average of that map, flattened, with what the family applies between
/// the two and no dropout: DenseNet's final ReLU, ConvNeXt's LayerNorm (<c>classifier.0</c>, whose keys the pooled
/// trunk keeps). For ResNet, DenseNet, MobileNetV2, EfficientNet and ConvNeXt this is the classifier's input; for VGG,
/// AlexNet, SqueezeNet and MobileNetV3, whose heads hold more layers, it is the pooled map (VGG 512, not the
/// 4096 of its hidden layers), as timm's <c>num_features</c> is. The trunk wraps the model and owns it.
/// </remarks>
public sealed class BackboneTrunk : ModelView<Tensor>
{
    readonly Backbone _model;
    readonly nn.Module<Tensor, Tensor>? _pooledNorm;

    BackboneTrunk(Backbone model, bool pooled) : base(nameof(BackboneTrunk), model)
    {
        _model = model;
        Pooled = pooled;
        var levels = model.FeatureInfo;
        Stride = levels[^1].Reduction;
        // EfficientNet's last level is its last stage (as timm's); the map it outputs comes after its 1×1 head convolution.
        OutChannels = model is EfficientNet ? model.NumFeatures : levels[^1].Channels;

        foreach (var (name, child) in ModulePaths.ChildrenThrough(model, [levels[^1].Module])) register_module(name, child);
        if (pooled && model is ConvNeXt)
        {
            _pooledNorm = (nn.Module<Tensor, Tensor>)model.named_modules().First(m => m.name == "classifier.0").module;
            register_module("classifier", nn.Sequential(("0", _pooledNorm)));
        }

        var kept = this.OrderedStateDict().Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
        var dropped = model.OrderedStateDict().Select(kv => kv.Key).Where(k => !kept.Contains(k)).ToList();
        Report = new TruncationReport(ModulePaths.NameOf(model), pooled, OutChannels, Stride, kept.Count, dropped);
    }

    /// <summary>Cuts <paramref name="model"/> before its head; <paramref name="pooled"/> adds global average pooling and flattening.</summary>
    public static BackboneTrunk Create(Backbone model, bool pooled = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new BackboneTrunk(model, pooled);
    }

    /// <summary>True: outputs N × <see cref="OutChannels"/>; false: N × <see cref="OutChannels"/> × H/<see cref="Stride"/> × W/<see cref="Stride"/>.</summary>
    public bool Pooled { get; }

    /// <summary>Channels of the feature map, and width of the pooled vector (ResNet-18 512, ResNet-50 2048, VGG 512).</summary>
    public long OutChannels { get; }

    /// <summary>Total reduction of the feature map against the input (32 for every family but SqueezeNet's 16, less when dilated).</summary>
    public long Stride { get; }

    /// <summary>What was kept and which of the model's keys (the head's) were left out.</summary>
    public TruncationReport Report { get; }

    /// <summary>The wrapped model, head included.</summary>
    public Backbone Model => _model;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var map = _model.ForwardFeatures(x);
        if (!Pooled) return map.MoveToOuterDisposeScope();
        if (_model is DenseNet) map = nn.functional.relu(map);
        var pooled = nn.functional.adaptive_avg_pool2d(map, 1);
        if (_pooledNorm is not null) pooled = _pooledNorm.call(pooled);
        return pooled.flatten(1).MoveToOuterDisposeScope();
    }


    public override string ToString() => Report.ToString();
}
