using Backbones.Serialization;
using Backbones.Transfer;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision's <c>BackboneWithFPN</c>: a backbone's stem and stages (<c>body</c>, an IntermediateLayerGetter) whose
/// chosen stage outputs feed a <see cref="FeaturePyramidNetwork"/> (<c>fpn</c>); the input of every detection head.
/// </summary>
/// <remarks>
/// The output is an ordered map of pyramid levels, highest resolution first, each <see cref="OutChannels"/> deep:
/// "0", "1", "2", "3" and "pool" for <see cref="ResNetFpn"/>'s defaults. The caller disposes the returned tensors.
/// </remarks>
public sealed class BackboneWithFpn : nn.Module<Tensor, OrderedDictionary<string, Tensor>>
{
    /// <summary>
    /// torchvision's <c>IntermediateLayerGetter</c>: the backbone's top-level children up to the last returned one, run in
    /// registration order, with the outputs of the returned ones under their new names.
    /// </summary>
    public sealed class IntermediateLayerGetter : nn.Module<Tensor, OrderedDictionary<string, Tensor>>
    {
        readonly List<(string Name, nn.Module<Tensor, Tensor> Module)> _layers = [];
        readonly IReadOnlyDictionary<string, string> _returnLayers;

        /// <summary>Moves the children of <paramref name="backbone"/> up to the last of <paramref name="returnLayers"/> into this module.</summary>
        /// <remarks>
        /// They are unregistered from <paramref name="backbone"/>, which keeps (and when disposed, disposes) only the rest,
        /// such as a classifier; like torchvision, this relies on the children being registered in the order they run.
        /// </remarks>
        public IntermediateLayerGetter(nn.Module backbone, IReadOnlyDictionary<string, string> returnLayers) : base(nameof(IntermediateLayerGetter))
        {
            var children = backbone.named_children().ToList();
            var missing = returnLayers.Keys.Where(k => children.All(c => c.name != k)).ToList();
            if (returnLayers.Count == 0 || missing.Count > 0)
                throw new ArgumentException($"return layers [{string.Join(", ", missing)}] are not top-level children of {backbone.GetName()} "
                    + $"({string.Join(", ", children.Select(c => c.name))})", nameof(returnLayers));
            var pending = returnLayers.Keys.ToHashSet(StringComparer.Ordinal);
            foreach (var (name, child) in children)
            {
                if (child is not nn.Module<Tensor, Tensor> layer)
                    throw new ArgumentException($"{backbone.GetName()}.{name} is a {child.GetType().Name}, not a tensor-to-tensor module the body can run", nameof(backbone));
                _layers.Add((name, layer));
                pending.Remove(name);
                if (pending.Count == 0) break;
            }
            foreach (var (name, _) in _layers) backbone.register_module(name, null!);
            foreach (var (name, layer) in _layers) register_module(name, layer);
            _returnLayers = new Dictionary<string, string>(returnLayers, StringComparer.Ordinal);
        }

        public override OrderedDictionary<string, Tensor> forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var outputs = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (name, layer) in _layers)
            {
                x = layer.call(x);
                if (_returnLayers.TryGetValue(name, out var outName)) outputs[outName] = x;
            }
            foreach (var value in outputs.Values) value.MoveToOuterDisposeScope();
            return outputs;
        }
    }

    readonly IntermediateLayerGetter body;
    readonly FeaturePyramidNetwork fpn;

    /// <param name="backbone">Its children up to the last returned layer move into <c>body</c> (see <see cref="IntermediateLayerGetter"/>).</param>
    /// <param name="returnLayers">Child name → output name, shallow to deep (<c>layer1</c> → <c>0</c>, ...).</param>
    /// <param name="inChannelsList">Channels of each returned layer, in the same order.</param>
    /// <param name="extraBlocks">Extra pyramid levels; null for <see cref="LastLevelMaxPool"/>, as torchvision.</param>
    /// <param name="normLayer">The FPN's norm layer; null for none (torchvision's default).</param>
    public BackboneWithFpn(nn.Module backbone, IReadOnlyDictionary<string, string> returnLayers, IReadOnlyList<long> inChannelsList, long outChannels,
        ExtraFpnBlock? extraBlocks = null, Func<long, nn.Module<Tensor, Tensor>>? normLayer = null) : base(nameof(BackboneWithFpn))
    {
        if (inChannelsList.Count != returnLayers.Count)
            throw new ArgumentException($"{returnLayers.Count} return layers but {inChannelsList.Count} input channel counts", nameof(inChannelsList));
        body = new IntermediateLayerGetter(backbone, returnLayers);
        fpn = new FeaturePyramidNetwork(inChannelsList, outChannels, extraBlocks ?? new LastLevelMaxPool(), normLayer);
        OutChannels = outChannels;
        RegisterComponents();
    }

    /// <summary>Channels of every output level (torchvision's <c>out_channels</c>, 256 for the R-CNN backbones).</summary>
    public long OutChannels { get; }

    /// <summary>What <see cref="ResNetFpn"/>'s trainable_layers rule froze; null when built from the constructor.</summary>
    public FreezeReport? Freezing { get; internal set; }

    /// <summary>What loading the backbone's pretrained weights did (<see cref="ResNetFpnOptions.Weights"/>); null for fresh weights.</summary>
    public WeightsLoadResult? BackboneWeights { get; internal set; }

    public override OrderedDictionary<string, Tensor> forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var levels = fpn.call(body.call(x));
        foreach (var value in levels.Values) value.MoveToOuterDisposeScope();
        return levels;
    }

    /// <summary>Renames the FPN keys of checkpoints older than torchvision 0.13 (<see cref="FeaturePyramidNetwork.RemapCheckpointKeys"/>).</summary>
    /// <param name="prefix">This module's key prefix in the checkpoint (<c>backbone.</c> in a detector's), with its dot, or "".</param>
    public IReadOnlyList<(string From, string To)> RemapCheckpointKeys(StateDict state, string prefix = "") =>
        fpn.RemapCheckpointKeys(state, prefix + "fpn.");
}
