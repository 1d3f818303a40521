using Backbones.Serialization;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision 0.14's <c>RegionProposalNetwork</c>: scores and regresses anchors on every feature level, keeps the best
/// per level, clips, drops tiny boxes, runs NMS per level and keeps the top proposals of each image; in training,
/// also the objectness (BCE) and box (smooth L1) losses on anchors sampled against the targets.
/// </summary>
/// <remarks>
/// State-dict keys are the head's (<c>head.conv.0.0.weight</c>, ...), <c>rpn.head...</c> in a detector; the anchor
/// generator holds none. The sampler draws from torch's global generator, in torchvision's order, so the same
/// <c>torch.manual_seed</c> gives torchvision's sample. The caller disposes the returned tensors.
/// </remarks>
public sealed class RegionProposalNetwork
    : nn.Module<ImageList, OrderedDictionary<string, Tensor>, IReadOnlyList<Dictionary<string, Tensor>>?, (List<Tensor> Boxes, Dictionary<string, Tensor> Losses)>
{
    readonly AnchorGenerator anchor_generator;
    readonly RpnHead head;
    readonly BoxCoder _boxCoder = BoxCoder.Rpn();
    readonly Matcher _proposalMatcher;
    readonly BalancedPositiveNegativeSampler _fgBgSampler;

    public RegionProposalNetwork(AnchorGenerator anchorGenerator, RpnHead head, RpnOptions? options = null) : base(nameof(RegionProposalNetwork))
    {
        Options = options ?? RpnOptions.Default;
        Options.Validate();
        var perLocation = anchorGenerator.NumAnchorsPerLocation();
        if (perLocation.Any(n => n != head.NumAnchors))
            throw new ArgumentException($"RegionProposalNetwork: the anchor generator makes [{string.Join(", ", perLocation)}] anchors per location on its levels "
                + $"but the head predicts {head.NumAnchors}", nameof(head));
        anchor_generator = anchorGenerator;
        this.head = head;
        _proposalMatcher = new Matcher(Options.FgIouThresh, Options.BgIouThresh, allowLowQualityMatches: true);
        _fgBgSampler = new BalancedPositiveNegativeSampler(Options.BatchSizePerImage, Options.PositiveFraction);
        RegisterComponents();
    }

    /// <summary>Keypoint (and Faster) R-CNN's RPN: <see cref="AnchorGenerator.ForFpn"/> and an <see cref="RpnHead"/> of 3 anchors per location.</summary>
    public static RegionProposalNetwork ForFpn(long inChannels = 256, RpnOptions? options = null)
    {
        (options ?? RpnOptions.Default).Validate(); // before building the parts, which a refusal would leave undisposed
        return new(AnchorGenerator.ForFpn(), new RpnHead(inChannels, 3), options);
    }

    public RpnOptions Options { get; }

    public AnchorGenerator AnchorGenerator => anchor_generator;

    public RpnHead Head => head;

    int PreNmsTopN => training ? Options.PreNmsTopNTrain : Options.PreNmsTopNTest;

    int PostNmsTopN => training ? Options.PostNmsTopNTrain : Options.PostNmsTopNTest;

    /// <summary>
    /// The proposals of each image ([P, 4], x1 y1 x2 y2 in the batch's pixels, by decreasing objectness) and, in
    /// training mode, <c>loss_objectness</c> and <c>loss_rpn_box_reg</c>; in evaluation the losses are empty.
    /// </summary>
    /// <param name="features">The feature levels, in the anchor generator's level order (the FPN's "0"..."pool").</param>
    /// <param name="targets">Per image, at least "boxes" (float [M, 4], M may be 0); required in training.</param>
    public override (List<Tensor> Boxes, Dictionary<string, Tensor> Losses) forward(ImageList images, OrderedDictionary<string, Tensor> features,
        IReadOnlyList<Dictionary<string, Tensor>>? targets = null)
    {
        if (training) CheckTargets(targets, images.ImageSizes.Count);
        using var scope = NewDisposeScope();
        var maps = features.Values.ToList();
        var (logits, deltas) = head.call(maps);
        var anchors = anchor_generator.call(images.Tensors, maps);
        int numImages = anchors.Count;
        var numAnchorsPerLevel = logits.Select(o => o.shape[1] * o.shape[2] * o.shape[3]).ToArray();
        var (objectness, predBboxDeltas) = ConcatBoxPredictionLayers(logits, deltas);
        // Proposals do not backpropagate into the deltas, as in torchvision.
        var proposals = _boxCoder.Decode(predBboxDeltas.detach(), anchors).view(numImages, -1, 4);
        var boxes = FilterProposals(proposals, objectness, images.ImageSizes, numAnchorsPerLevel);

        var losses = new Dictionary<string, Tensor>();
        if (training)
        {
            var (labels, matchedGtBoxes) = AssignTargetsToAnchors(anchors, targets!);
            var regressionTargets = _boxCoder.Encode(matchedGtBoxes, anchors);
            var (objectnessLoss, boxLoss) = ComputeLoss(objectness, predBboxDeltas, labels, regressionTargets);
            losses["loss_objectness"] = objectnessLoss.MoveToOuterDisposeScope();
            losses["loss_rpn_box_reg"] = boxLoss.MoveToOuterDisposeScope();
        }
        foreach (var b in boxes) b.MoveToOuterDisposeScope();
        return (boxes, losses);
    }

    /// <summary>
    /// torchvision's <c>concat_box_prediction_layers</c>: per-level head outputs [N, A·C, H, W] and [N, A·4, H, W]
    /// flattened to [N·ΣHWA, C] and [N·ΣHWA, 4], image-major, then level, row, column and anchor, as the anchors are.
    /// </summary>
    public static (Tensor BoxCls, Tensor BoxRegression) ConcatBoxPredictionLayers(IReadOnlyList<Tensor> boxCls, IReadOnlyList<Tensor> boxRegression)
    {
        using var scope = NewDisposeScope();
        var clsFlattened = new List<Tensor>();
        var regressionFlattened = new List<Tensor>();
        for (int level = 0; level < boxCls.Count; level++)
        {
            long n = boxCls[level].shape[0], axc = boxCls[level].shape[1], h = boxCls[level].shape[2], w = boxCls[level].shape[3];
            long a = boxRegression[level].shape[1] / 4;
            clsFlattened.Add(PermuteAndFlatten(boxCls[level], n, axc / a, h, w));
            regressionFlattened.Add(PermuteAndFlatten(boxRegression[level], n, 4, h, w));
        }
        var cls = cat(clsFlattened, 1).flatten(0, -2);
        var regression = cat(regressionFlattened, 1).reshape(-1, 4);
        return (cls.MoveToOuterDisposeScope(), regression.MoveToOuterDisposeScope());
    }

    static Tensor PermuteAndFlatten(Tensor layer, long n, long c, long h, long w) =>
        layer.view(n, -1, c, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, c);

    /// <summary>filter_proposals: top-n per level on the detached logits, sigmoid, clip, small and low boxes out, NMS per level, top-n per image.</summary>
    List<Tensor> FilterProposals(Tensor proposals, Tensor objectness, IReadOnlyList<(long Height, long Width)> imageShapes, long[] numAnchorsPerLevel)
    {
        long numImages = proposals.shape[0];
        var device = proposals.device;
        objectness = objectness.detach().reshape(numImages, -1);
        var levels = cat(numAnchorsPerLevel.Select((n, level) => full(n, level, ScalarType.Int64, device)).ToList(), 0)
            .reshape(1, -1).expand_as(objectness);

        var topNIdx = TopNIdx(objectness, numAnchorsPerLevel);
        objectness = objectness.gather(1, topNIdx);
        levels = levels.gather(1, topNIdx);
        proposals = proposals.gather(1, topNIdx.unsqueeze(2).expand(-1, -1, 4));
        var objectnessProb = sigmoid(objectness);

        var finalBoxes = new List<Tensor>();
        for (int i = 0; i < numImages; i++)
        {
            var (height, width) = imageShapes[i];
            var boxes = BoxOps.ClipToImage(proposals[i], ((int)height, (int)width));
            Tensor scores = objectnessProb[i], lvl = levels[i];

            var keep = BoxOps.RemoveSmall(boxes, Options.MinSize);
            (boxes, scores, lvl) = (boxes.index_select(0, keep), scores.index_select(0, keep), lvl.index_select(0, keep));

            keep = scores.ge(Options.ScoreThresh).nonzero().view(-1);
            (boxes, scores, lvl) = (boxes.index_select(0, keep), scores.index_select(0, keep), lvl.index_select(0, keep));

            keep = BoxOps.BatchedNms(boxes, scores, lvl, Options.NmsThresh);
            keep = keep[..(int)Math.Min(PostNmsTopN, keep.shape[0])];
            finalBoxes.Add(boxes.index_select(0, keep));
        }
        return finalBoxes;
    }

    /// <summary>_get_top_n_idx: per level, the indices (into all levels) of the pre-NMS top-n logits of each image.</summary>
    Tensor TopNIdx(Tensor objectness, long[] numAnchorsPerLevel)
    {
        var result = new List<Tensor>();
        long offset = 0;
        foreach (var ob in objectness.split(numAnchorsPerLevel, 1))
        {
            long numAnchors = ob.shape[1];
            var (_, topNIdx) = ob.topk((int)Math.Min(PreNmsTopN, numAnchors), dim: 1);
            result.Add(topNIdx + offset);
            offset += numAnchors;
        }
        return cat(result, 1);
    }

    /// <summary>
    /// assign_targets_to_anchors: per image, labels (1 matched, 0 background, -1 ignored; float32) and the matched
    /// ground-truth box of every anchor; an image without boxes has only background and zero boxes.
    /// </summary>
    (List<Tensor> Labels, List<Tensor> MatchedGtBoxes) AssignTargetsToAnchors(IReadOnlyList<Tensor> anchors, IReadOnlyList<Dictionary<string, Tensor>> targets)
    {
        var labels = new List<Tensor>();
        var matchedGtBoxes = new List<Tensor>();
        for (int i = 0; i < anchors.Count; i++)
        {
            var anchorsPerImage = anchors[i];
            var gtBoxes = targets[i]["boxes"];
            if (gtBoxes.numel() == 0)
            {
                matchedGtBoxes.Add(zeros(anchorsPerImage.shape, ScalarType.Float32, anchorsPerImage.device));
                labels.Add(zeros(anchorsPerImage.shape[0], ScalarType.Float32, anchorsPerImage.device));
                continue;
            }
            var matchedIdxs = _proposalMatcher.Match(BoxOps.Iou(gtBoxes, anchorsPerImage));
            // -2 (between thresholds) would index out of bounds: clamp, as torchvision does; the label says ignore.
            matchedGtBoxes.Add(gtBoxes.index_select(0, matchedIdxs.clamp_min(0)));
            labels.Add(matchedIdxs.ge(0).to(ScalarType.Float32)
                .masked_fill(matchedIdxs.eq(Matcher.BelowLowThreshold), 0.0)
                .masked_fill(matchedIdxs.eq(Matcher.BetweenThresholds), -1.0));
        }
        return (labels, matchedGtBoxes);
    }

    /// <summary>compute_loss: BCE with logits on the sampled anchors; smooth L1 (β = 1/9) on the sampled positives, summed and divided by the sample size.</summary>
    (Tensor Objectness, Tensor BoxReg) ComputeLoss(Tensor objectness, Tensor predBboxDeltas, IReadOnlyList<Tensor> labels, IReadOnlyList<Tensor> regressionTargets)
    {
        var (positive, negative) = _fgBgSampler.Sample(labels);
        var sampledPosInds = cat(positive, 0).nonzero().view(-1);
        var sampledNegInds = cat(negative, 0).nonzero().view(-1);
        var sampledInds = cat([sampledPosInds, sampledNegInds], 0);
        objectness = objectness.flatten();
        var allLabels = cat(labels.ToList(), 0);
        var allTargets = cat(regressionTargets.ToList(), 0);
        var boxLoss = nn.functional.smooth_l1_loss(predBboxDeltas.index_select(0, sampledPosInds), allTargets.index_select(0, sampledPosInds),
            reduction: nn.Reduction.Sum, beta: 1.0 / 9) / sampledInds.numel();
        var objectnessLoss = nn.functional.binary_cross_entropy_with_logits(objectness.index_select(0, sampledInds), allLabels.index_select(0, sampledInds));
        return (objectnessLoss, boxLoss);
    }

    static void CheckTargets(IReadOnlyList<Dictionary<string, Tensor>>? targets, int numImages)
    {
        if (targets is null)
            throw new ArgumentException("RegionProposalNetwork: targets are required in training mode (call eval() for inference)", nameof(targets));
        if (targets.Count != numImages)
            throw new ArgumentException($"RegionProposalNetwork: {targets.Count} targets for {numImages} images", nameof(targets));
        for (int i = 0; i < targets.Count; i++)
        {
            if (!targets[i].TryGetValue("boxes", out var boxes))
                throw new ArgumentException($"RegionProposalNetwork: target {i} has no \"boxes\" (keys: {string.Join(", ", targets[i].Keys)})", nameof(targets));
            if (boxes.dim() != 2 || boxes.shape[1] != 4 || !boxes.is_floating_point())
                throw new ArgumentException($"RegionProposalNetwork: target {i}'s boxes are {boxes.dtype} [{string.Join(", ", boxes.shape)}], expected floating point [M, 4]", nameof(targets));
        }
    }

    /// <summary>Renames pre-0.13 head keys (<see cref="RpnHead.RemapCheckpointKeys"/>); a detector calls it with "rpn.".</summary>
    /// <param name="prefix">This module's key prefix in the checkpoint, with its dot, or "".</param>
    public IReadOnlyList<(string From, string To)> RemapCheckpointKeys(StateDict state, string prefix = "") =>
        head.RemapCheckpointKeys(state, prefix + "head.");
}
