using Backbones.Models.Layers;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision 0.14's <c>RPNHead</c>: on every feature level, a shared 3×3 convolution with ReLU, then per anchor one
/// objectness logit (<c>cls_logits</c>) and four box deltas (<c>bbox_pred</c>).
/// </summary>
/// <remarks>
/// The convolutions are a Sequential of Conv2dNormActivation (keys <c>conv.0.0.weight</c>); checkpoints from before
/// torchvision 0.13 name it <c>conv.weight</c>, which <see cref="RemapCheckpointKeys"/> renames.
/// </remarks>
public sealed class RpnHead : nn.Module<IReadOnlyList<Tensor>, (List<Tensor> Logits, List<Tensor> BoxDeltas)>
{
    readonly Sequential conv;
    readonly Conv2d cls_logits;
    readonly Conv2d bbox_pred;

    /// <param name="inChannels">Channels of every feature level (256 for the FPN backbones).</param>
    /// <param name="numAnchors">Anchors per location (3 for the FPN's one size × three ratios).</param>
    /// <param name="convDepth">Number of 3×3 convolutions before the predictors.</param>
    public RpnHead(long inChannels, long numAnchors, int convDepth = 1) : base(nameof(RpnHead))
    {
        if (inChannels <= 0 || numAnchors <= 0 || convDepth <= 0)
            throw new ArgumentOutOfRangeException(nameof(inChannels), $"RpnHead needs positive channels, anchors and depth; got {inChannels}, {numAnchors}, {convDepth}");
        conv = nn.Sequential(Enumerable.Range(0, convDepth)
            .Select(_ => (nn.Module<Tensor, Tensor>)new Conv2dNormActivation(inChannels, inChannels, 3, 1, 1, null, () => nn.ReLU())).ToArray());
        cls_logits = nn.Conv2d(inChannels, numAnchors, 1);
        bbox_pred = nn.Conv2d(inChannels, numAnchors * 4, 1);
        // torchvision's loop over self.modules(): the convolutions in registration order, weights N(0, 0.01), biases 0.
        using (no_grad())
            foreach (var layer in conv.modules().OfType<Conv2d>().Append(cls_logits).Append(bbox_pred))
            {
                nn.init.normal_(layer.weight!, std: 0.01);
                if (layer.bias is not null) nn.init.constant_(layer.bias, 0);
            }
        InChannels = inChannels;
        NumAnchors = numAnchors;
        RegisterComponents();
    }

    public long InChannels { get; }

    public long NumAnchors { get; }

    /// <summary>Per level, the logits [N, A, H, W] and the box deltas [N, 4·A, H, W].</summary>
    public override (List<Tensor> Logits, List<Tensor> BoxDeltas) forward(IReadOnlyList<Tensor> x)
    {
        using var scope = NewDisposeScope();
        var logits = new List<Tensor>();
        var deltas = new List<Tensor>();
        for (int i = 0; i < x.Count; i++)
        {
            if (x[i].dim() != 4 || x[i].shape[1] != InChannels)
                throw new ArgumentException($"RpnHead expects N×{InChannels}×H×W features, level {i} is [{string.Join(", ", x[i].shape)}]", nameof(x));
            var t = conv.call(x[i]);
            logits.Add(cls_logits.call(t).MoveToOuterDisposeScope());
            deltas.Add(bbox_pred.call(t).MoveToOuterDisposeScope());
        }
        return (logits, deltas);
    }

    /// <summary>
    /// torchvision's <c>RPNHead._load_from_state_dict</c>: when this module's <c>_metadata</c> version is absent or
    /// below 2, renames <c>{prefix}conv.weight</c> / <c>.bias</c> to <c>{prefix}conv.0.0.weight</c> / <c>.bias</c>.
    /// </summary>
    /// <param name="prefix">This module's key prefix in the checkpoint, with its dot (<c>rpn.head.</c> in a detector's), or "".</param>
    public IReadOnlyList<(string From, string To)> RemapCheckpointKeys(StateDict state, string prefix = "")
    {
        if (state.Metadata is { } metadata && metadata.TryGetValue(prefix.TrimEnd('.'), out var entry)
            && entry is PyDict local && local.TryGetValue("version", out var version) && version is long v && v >= 2)
            return [];
        return state.RenameWhere(k => k == $"{prefix}conv.weight" ? $"{prefix}conv.0.0.weight"
            : k == $"{prefix}conv.bias" ? $"{prefix}conv.0.0.bias" : null);
    }
}
