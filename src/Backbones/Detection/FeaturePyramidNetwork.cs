using Backbones.Init;
using Backbones.Models.Layers;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision 0.14's <c>ops.FeaturePyramidNetwork</c> ("Feature Pyramid Networks for Object Detection", Lin et al. 2017):
/// a 1×1 lateral and a 3×3 output convolution per input level, merged top-down by nearest upsampling, then extra levels.
/// </summary>
/// <remarks>
/// Input and output are ordered maps, shallow (high resolution) first. The blocks are Conv2dNormActivation, hence the
/// keys <c>inner_blocks.0.0.weight</c>; <see cref="RemapCheckpointKeys"/> renames the keys of checkpoints older than that.
/// </remarks>
public sealed class FeaturePyramidNetwork : nn.Module<OrderedDictionary<string, Tensor>, OrderedDictionary<string, Tensor>>
{
    readonly ModuleList<Conv2dNormActivation> inner_blocks;
    readonly ModuleList<Conv2dNormActivation> layer_blocks;
    readonly ExtraFpnBlock? extra_blocks;

    /// <param name="inChannelsList">Channels of each input level, in input order.</param>
    /// <param name="extraBlocks">Levels appended after the pyramid (<see cref="LastLevelMaxPool"/>); null for none.</param>
    /// <param name="normLayer">A norm layer after each convolution (which then has no bias); null for none, as torchvision's default.</param>
    public FeaturePyramidNetwork(IReadOnlyList<long> inChannelsList, long outChannels, ExtraFpnBlock? extraBlocks = null,
        Func<long, nn.Module<Tensor, Tensor>>? normLayer = null) : base(nameof(FeaturePyramidNetwork))
    {
        if (inChannelsList.Count == 0) throw new ArgumentException("FeaturePyramidNetwork needs at least one input level", nameof(inChannelsList));
        if (inChannelsList.Any(c => c <= 0))
            throw new ArgumentException($"FeaturePyramidNetwork input channels must be positive, got [{string.Join(", ", inChannelsList)}]", nameof(inChannelsList));
        inner_blocks = new ModuleList<Conv2dNormActivation>();
        layer_blocks = new ModuleList<Conv2dNormActivation>();
        foreach (long inChannels in inChannelsList)
        {
            inner_blocks.Add(new Conv2dNormActivation(inChannels, outChannels, 1, 1, 1, normLayer, null, padding: 0));
            layer_blocks.Add(new Conv2dNormActivation(outChannels, outChannels, 3, 1, 1, normLayer, null));
        }
        // torchvision initialises the pyramid's convolutions before it attaches the extra block, which keeps its own.
        using (no_grad())
            foreach (var conv in inner_blocks.Concat(layer_blocks).SelectMany(b => b.modules()).OfType<Conv2d>())
            {
                Initializers.KaimingUniform(conv.weight!, a: 1);
                if (conv.bias is not null) Initializers.Zeros(conv.bias);
            }
        extra_blocks = extraBlocks;
        InChannels = [.. inChannelsList];
        OutChannels = outChannels;
        RegisterComponents();
    }

    public IReadOnlyList<long> InChannels { get; }

    public long OutChannels { get; }

    public override OrderedDictionary<string, Tensor> forward(OrderedDictionary<string, Tensor> x)
    {
        if (x.Count != inner_blocks.Count)
            throw new ArgumentException($"FeaturePyramidNetwork was built for {inner_blocks.Count} levels, got {x.Count} ({string.Join(", ", x.Keys)})", nameof(x));
        using var scope = NewDisposeScope();
        var names = x.Keys.ToList();
        var maps = x.Values.ToList();
        for (int i = 0; i < maps.Count; i++)
            if (maps[i].dim() != 4 || maps[i].shape[1] != InChannels[i])
                throw new ArgumentException($"FeaturePyramidNetwork level '{names[i]}' expects N×{InChannels[i]}×H×W, got [{string.Join(", ", maps[i].shape)}]", nameof(x));

        int last = maps.Count - 1;
        var lastInner = inner_blocks[last].call(maps[last]);
        var results = new List<Tensor> { layer_blocks[last].call(lastInner) };
        for (int idx = last - 1; idx >= 0; idx--)
        {
            var lateral = inner_blocks[idx].call(maps[idx]);
            var topDown = nn.functional.interpolate(lastInner, size: [lateral.shape[^2], lateral.shape[^1]], mode: InterpolationMode.Nearest);
            lastInner = lateral + topDown;
            results.Insert(0, layer_blocks[idx].call(lastInner));
        }

        IReadOnlyList<Tensor> outputs = results;
        IReadOnlyList<string> outputNames = names;
        if (extra_blocks is not null) (outputs, outputNames) = extra_blocks.call(results, maps, names);
        var output = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal);
        for (int i = 0; i < outputs.Count; i++) output.Add(outputNames[i], outputs[i].MoveToOuterDisposeScope());
        return output;
    }

    /// <summary>
    /// torchvision's <c>_load_from_state_dict</c> remap: in a checkpoint from before the blocks became
    /// Conv2dNormActivation (this module's <c>_metadata</c> version absent or below 2), renames
    /// <c>{prefix}inner_blocks.{i}.weight</c> to <c>{prefix}inner_blocks.{i}.0.weight</c> (biases and layer_blocks alike).
    /// </summary>
    /// <param name="prefix">This module's key prefix in the checkpoint, with its dot (<c>fpn.</c>, <c>backbone.fpn.</c>).</param>
    public IReadOnlyList<(string From, string To)> RemapCheckpointKeys(StateDict state, string prefix)
    {
        if (state.Metadata is { } metadata && metadata.TryGetValue(prefix.TrimEnd('.'), out var entry)
            && entry is PyDict local && local.TryGetValue("version", out var version) && version is long v && v >= 2)
            return [];
        var renames = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string block in new[] { "inner_blocks", "layer_blocks" })
            for (int i = 0; i < inner_blocks.Count; i++)
                foreach (string kind in new[] { "weight", "bias" })
                    renames[$"{prefix}{block}.{i}.{kind}"] = $"{prefix}{block}.{i}.0.{kind}";
        return state.RenameWhere(k => renames.GetValueOrDefault(k));
    }
}
