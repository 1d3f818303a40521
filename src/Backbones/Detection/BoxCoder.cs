using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision's BoxCoder: boxes as (dx, dy, dw, dh) offsets from reference boxes, scaled by per-coordinate
/// weights ((1, 1, 1, 1) in the RPN, (10, 10, 5, 5) in the RoI heads), and back, with dw and dh clipped before exp.
/// </summary>
public sealed class BoxCoder
{
    /// <summary>torchvision's bbox_xform_clip, log(1000 / 16): no box grows more than 62.5 times its reference.</summary>
    public static readonly double DefaultXformClip = Math.Log(1000.0 / 16);

    public (double X, double Y, double W, double H) Weights { get; }
    public double XformClip { get; }

    public BoxCoder((double X, double Y, double W, double H) weights, double? xformClip = null)
    {
        Weights = weights;
        XformClip = xformClip ?? DefaultXformClip;
    }

    /// <summary>The RPN's coder, weights (1, 1, 1, 1).</summary>
    public static BoxCoder Rpn() => new((1, 1, 1, 1));

    /// <summary>The RoI heads' coder, weights (10, 10, 5, 5).</summary>
    public static BoxCoder RoiHeads() => new((10, 10, 5, 5));

    /// <summary>Encodes each image's <paramref name="referenceBoxes"/> (the targets) against its <paramref name="proposals"/>; one [L, 4] tensor per image.</summary>
    public Tensor[] Encode(IReadOnlyList<Tensor> referenceBoxes, IReadOnlyList<Tensor> proposals)
    {
        using var scope = NewDisposeScope();
        var counts = referenceBoxes.Select(b => b.shape[0]).ToArray();
        var targets = EncodeSingle(cat(referenceBoxes.ToList(), 0), cat(proposals.ToList(), 0));
        return targets.split(counts, 0).Select(t => t.MoveToOuterDisposeScope()).ToArray();
    }

    /// <summary>encode_single: the [N, 4] offsets that take <paramref name="proposals"/> to <paramref name="referenceBoxes"/>.</summary>
    public Tensor EncodeSingle(Tensor referenceBoxes, Tensor proposals)
    {
        BoxOps.CheckBoxes(referenceBoxes, nameof(referenceBoxes));
        BoxOps.CheckBoxes(proposals, nameof(proposals));
        using var scope = NewDisposeScope();
        var weights = tensor(new[] { Weights.X, Weights.Y, Weights.W, Weights.H }, referenceBoxes.dtype, referenceBoxes.device);
        Tensor Column(Tensor boxes, int i) => boxes[.., i].unsqueeze(1);
        var exWidths = Column(proposals, 2) - Column(proposals, 0);
        var exHeights = Column(proposals, 3) - Column(proposals, 1);
        var exCtrX = Column(proposals, 0) + 0.5 * exWidths;
        var exCtrY = Column(proposals, 1) + 0.5 * exHeights;
        var gtWidths = Column(referenceBoxes, 2) - Column(referenceBoxes, 0);
        var gtHeights = Column(referenceBoxes, 3) - Column(referenceBoxes, 1);
        var gtCtrX = Column(referenceBoxes, 0) + 0.5 * gtWidths;
        var gtCtrY = Column(referenceBoxes, 1) + 0.5 * gtHeights;
        var dx = weights[0] * (gtCtrX - exCtrX) / exWidths;
        var dy = weights[1] * (gtCtrY - exCtrY) / exHeights;
        var dw = weights[2] * log(gtWidths / exWidths);
        var dh = weights[3] * log(gtHeights / exHeights);
        return cat([dx, dy, dw, dh], 1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// decode: <paramref name="relCodes"/> ([K, 4·classes], the boxes of all images in order) applied to the
    /// reference <paramref name="boxes"/> of each image; returns [K, classes, 4].
    /// </summary>
    public Tensor Decode(Tensor relCodes, IReadOnlyList<Tensor> boxes)
    {
        using var scope = NewDisposeScope();
        long total = boxes.Sum(b => b.shape[0]);
        var concatenated = cat(boxes.ToList(), 0);
        if (total > 0) relCodes = relCodes.reshape(total, -1);
        var predicted = DecodeSingle(relCodes, concatenated);
        if (total > 0) predicted = predicted.reshape(total, -1, 4);
        return predicted.MoveToOuterDisposeScope();
    }

    /// <summary>decode_single: <paramref name="relCodes"/> [N, 4·classes] applied to the reference <paramref name="boxes"/> [N, 4]; returns [N, 4·classes].</summary>
    public Tensor DecodeSingle(Tensor relCodes, Tensor boxes)
    {
        BoxOps.CheckBoxes(boxes, nameof(boxes));
        if (relCodes.dim() != 2 || relCodes.shape[1] % 4 != 0 || relCodes.shape[0] != boxes.shape[0])
            throw new ArgumentException($"relCodes have shape [{string.Join(", ", relCodes.shape)}], expected [{boxes.shape[0]}, 4·classes]", nameof(relCodes));
        using var scope = NewDisposeScope();
        boxes = boxes.to(relCodes.dtype);
        var widths = boxes[.., 2] - boxes[.., 0];
        var heights = boxes[.., 3] - boxes[.., 1];
        var ctrX = boxes[.., 0] + 0.5 * widths;
        var ctrY = boxes[.., 1] + 0.5 * heights;
        Tensor Every4th(int start) => relCodes[.., TensorIndex.Slice(start, null, 4)];
        var dx = Every4th(0) / Weights.X;
        var dy = Every4th(1) / Weights.Y;
        var dw = (Every4th(2) / Weights.W).clamp_max(XformClip);
        var dh = (Every4th(3) / Weights.H).clamp_max(XformClip);
        var predCtrX = dx * widths.unsqueeze(1) + ctrX.unsqueeze(1);
        var predCtrY = dy * heights.unsqueeze(1) + ctrY.unsqueeze(1);
        var predW = exp(dw) * widths.unsqueeze(1);
        var predH = exp(dh) * heights.unsqueeze(1);
        var half = tensor(0.5, relCodes.dtype, relCodes.device);
        var cToCH = half * predH;
        var cToCW = half * predW;
        return stack([predCtrX - cToCW, predCtrY - cToCH, predCtrX + cToCW, predCtrY + cToCH], 2).flatten(1).MoveToOuterDisposeScope();
    }
}
