using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision's RoIHeads with the keypoint branch of Keypoint R-CNN: pools each proposal, classifies and refines it;
/// in training computes the box and keypoint losses on a sampled batch, in eval returns the final detections.
/// </summary>
/// <remarks>
/// Submodules carry torchvision's names, so a detector's keys are <c>roi_heads.box_head.fc6.weight</c> ...
/// <c>roi_heads.keypoint_predictor.kps_score_lowres.bias</c>. The keypoint branch is optional (Faster R-CNN has none).
/// Detections per image: "boxes" [N, 4], "labels" (int64), "scores", and with keypoints "keypoints" [N, K, 3]
/// (x, y, 1) and "keypoints_scores" [N, K]. Losses: "loss_classifier", "loss_box_reg", "loss_keypoint".
/// These keys have not changed since torchvision 0.3 (0.14 remaps old keys of the RPN head and the FPN, not of the RoI
/// heads), so the legacy COCO checkpoint's <c>roi_heads.*</c> load as they are.
/// </remarks>
public sealed class RoiHeads : nn.Module<OrderedDictionary<string, Tensor>, IReadOnlyList<Tensor>, IReadOnlyList<(long Height, long Width)>,
    IReadOnlyList<Dictionary<string, Tensor>>?, (List<Dictionary<string, Tensor>> Detections, Dictionary<string, Tensor> Losses)>
{
    readonly MultiScaleRoiAlign box_roi_pool;
    readonly nn.Module<Tensor, Tensor> box_head;
    readonly nn.Module<Tensor, (Tensor ClassLogits, Tensor BoxRegression)> box_predictor;
    readonly MultiScaleRoiAlign? keypoint_roi_pool;
    readonly nn.Module<Tensor, Tensor>? keypoint_head;
    readonly nn.Module<Tensor, Tensor>? keypoint_predictor;

    readonly Matcher _matcher;
    readonly BalancedPositiveNegativeSampler _sampler;
    readonly BoxCoder _boxCoder;

    public RoiHeads(MultiScaleRoiAlign boxRoiPool, nn.Module<Tensor, Tensor> boxHead, nn.Module<Tensor, (Tensor ClassLogits, Tensor BoxRegression)> boxPredictor,
        RoiHeadsOptions? options = null, MultiScaleRoiAlign? keypointRoiPool = null, nn.Module<Tensor, Tensor>? keypointHead = null,
        nn.Module<Tensor, Tensor>? keypointPredictor = null) : base("RoIHeads")
    {
        int keypointParts = new object?[] { keypointRoiPool, keypointHead, keypointPredictor }.Count(m => m is not null);
        if (keypointParts is not (0 or 3))
            throw new ArgumentException("RoiHeads: the keypoint branch needs all of keypointRoiPool, keypointHead and keypointPredictor, or none of them", nameof(keypointRoiPool));
        Options = options ?? new RoiHeadsOptions();
        _matcher = new Matcher(Options.ForegroundIouThreshold, Options.BackgroundIouThreshold, allowLowQualityMatches: false);
        _sampler = new BalancedPositiveNegativeSampler(Options.BatchSizePerImage, Options.PositiveFraction);
        _boxCoder = new BoxCoder(Options.BoxRegressionWeights);
        box_roi_pool = boxRoiPool;
        box_head = boxHead;
        box_predictor = boxPredictor;
        keypoint_roi_pool = keypointRoiPool;
        keypoint_head = keypointHead;
        keypoint_predictor = keypointPredictor;
        RegisterComponents();
    }

    /// <summary>
    /// Keypoint R-CNN's heads as torchvision builds them on an FPN of <paramref name="inChannels"/> channels: box pooling
    /// 7×7 and keypoint pooling 14×14 from levels 0–3 (sampling ratio 2), <see cref="TwoMlpHead"/> 1024,
    /// <see cref="FastRcnnPredictor"/>, <see cref="KeypointRcnnHeads"/> 8×512 and <see cref="KeypointRcnnPredictor"/>.
    /// </summary>
    public static RoiHeads KeypointRcnn(long inChannels = 256, int numClasses = 2, int numKeypoints = 17, RoiHeadsOptions? options = null)
    {
        string[] levels = ["0", "1", "2", "3"];
        const int representationSize = 1024;
        return new RoiHeads(new MultiScaleRoiAlign(levels, 7, 2), new TwoMlpHead(inChannels * 7 * 7, representationSize),
            new FastRcnnPredictor(representationSize, numClasses), options,
            new MultiScaleRoiAlign(levels, 14, 2), new KeypointRcnnHeads(inChannels), new KeypointRcnnPredictor(512, numKeypoints));
    }

    public RoiHeadsOptions Options { get; }

    public bool HasKeypoints => keypoint_predictor is not null;

    /// <summary>
    /// Puts a freshly initialised <see cref="KeypointRcnnPredictor"/> for <paramref name="numKeypoints"/> keypoints in
    /// <c>keypoint_predictor</c>'s place (the fine-tuning recipe); the report holds the old predictor, the caller's to dispose.
    /// </summary>
    public ModuleReplacement ReplaceKeypointPredictor(int numKeypoints)
    {
        if (keypoint_predictor is null) throw new InvalidOperationException("RoiHeads: there is no keypoint branch whose predictor could be replaced");
        long inChannels = keypoint_predictor is KeypointRcnnPredictor old ? old.InChannels : throw new InvalidOperationException(
            $"RoiHeads: the keypoint predictor is a {keypoint_predictor.GetType().Name}, whose input width is unknown; replace keypoint_predictor with Surgery.ReplaceModule");
        return Surgery.ReplaceModule(this, "keypoint_predictor", new KeypointRcnnPredictor(inChannels, numKeypoints));
    }

    /// <summary>Puts a freshly initialised <see cref="FastRcnnPredictor"/> for <paramref name="numClasses"/> classes (background included) in <c>box_predictor</c>'s place.</summary>
    public ModuleReplacement ReplaceBoxPredictor(int numClasses)
    {
        long inChannels = box_head is TwoMlpHead head ? head.RepresentationSize : throw new InvalidOperationException(
            $"RoiHeads: the box head is a {box_head.GetType().Name}, whose output width is unknown; replace box_predictor with Surgery.ReplaceModule");
        return Surgery.ReplaceModule(this, "box_predictor", new FastRcnnPredictor(inChannels, numClasses));
    }

    /// <param name="features">The FPN levels by name (the backbone's output).</param>
    /// <param name="proposals">Per image, the RPN's boxes [L, 4] in the batched images' coordinates.</param>
    /// <param name="imageShapes">Per image, its size before batching (boxes are clipped to it).</param>
    /// <param name="targets">In training, per image: "boxes" [G, 4] (floating point), "labels" [G] (int64) and, with
    /// the keypoint branch, "keypoints" [G, K, 3] (float32); not used in eval.</param>
    public override (List<Dictionary<string, Tensor>> Detections, Dictionary<string, Tensor> Losses) forward(OrderedDictionary<string, Tensor> features,
        IReadOnlyList<Tensor> proposals, IReadOnlyList<(long Height, long Width)> imageShapes, IReadOnlyList<Dictionary<string, Tensor>>? targets = null)
    {
        if (proposals.Count != imageShapes.Count)
            throw new ArgumentException($"RoiHeads: {proposals.Count} images of proposals but {imageShapes.Count} image shapes", nameof(imageShapes));
        if (targets is not null) CheckTargets(targets, proposals.Count);
        if (training && targets is null) throw new ArgumentException("RoiHeads: targets are required in training mode", nameof(targets));
        var shapes = imageShapes.Select(s => ((int)s.Height, (int)s.Width)).ToList();

        using var scope = NewDisposeScope();
        var detections = new List<Dictionary<string, Tensor>>();
        var losses = new Dictionary<string, Tensor>();
        Tensor[] labels = [], matchedIdxs = [], regressionTargets = [];
        if (training) (proposals, matchedIdxs, labels, regressionTargets) = SelectTrainingSamples(proposals, targets!);

        var boxFeatures = box_head.call(box_roi_pool.call(features, proposals, shapes));
        var (classLogits, boxRegression) = box_predictor.call(boxFeatures);
        if (training)
        {
            var (classifier, boxReg) = FastRcnnLoss(classLogits, boxRegression, labels, regressionTargets);
            losses["loss_classifier"] = classifier;
            losses["loss_box_reg"] = boxReg;
        }
        else
        {
            var (boxes, scores, classes) = PostprocessDetections(classLogits, boxRegression, proposals, shapes);
            for (int i = 0; i < boxes.Length; i++)
                detections.Add(new Dictionary<string, Tensor> { ["boxes"] = boxes[i], ["labels"] = classes[i], ["scores"] = scores[i] });
        }

        if (keypoint_roi_pool is not null && keypoint_head is not null && keypoint_predictor is not null)
        {
            var keypointProposals = new List<Tensor>();
            var positiveMatched = new List<Tensor>();
            if (training)
                // Only the positive proposals train the keypoint branch.
                for (int i = 0; i < proposals.Count; i++)
                {
                    var positive = labels[i].gt(0).nonzero().view(-1);
                    keypointProposals.Add(proposals[i].index_select(0, positive));
                    positiveMatched.Add(matchedIdxs[i].index_select(0, positive));
                }
            else
                keypointProposals.AddRange(detections.Select(d => d["boxes"]));

            var keypointLogits = keypoint_predictor.call(keypoint_head.call(keypoint_roi_pool.call(features, keypointProposals, shapes)));
            if (training)
                losses["loss_keypoint"] = KeypointOps.KeypointRcnnLoss(keypointLogits, keypointProposals, targets!.Select(t => t["keypoints"]).ToList(), positiveMatched);
            else
            {
                var (keypoints, keypointScores) = KeypointOps.KeypointRcnnInference(keypointLogits, keypointProposals);
                for (int i = 0; i < detections.Count; i++)
                {
                    detections[i]["keypoints"] = keypoints[i];
                    detections[i]["keypoints_scores"] = keypointScores[i];
                }
            }
        }

        foreach (var value in detections.SelectMany(d => d.Values).Concat(losses.Values)) value.MoveToOuterDisposeScope();
        return (detections, losses);
    }

    /// <summary>
    /// select_training_samples: adds the ground-truth boxes to each image's proposals, matches them, samples
    /// <see cref="RoiHeadsOptions.BatchSizePerImage"/> of them (from torch's default generator, as torchvision) and
    /// encodes the regression targets; returns the sampled proposals, matched ground-truth indices, labels (0 background) and targets.
    /// </summary>
    public (Tensor[] Proposals, Tensor[] MatchedIdxs, Tensor[] Labels, Tensor[] RegressionTargets) SelectTrainingSamples(
        IReadOnlyList<Tensor> proposals, IReadOnlyList<Dictionary<string, Tensor>> targets)
    {
        CheckTargets(targets, proposals.Count);
        using var scope = NewDisposeScope();
        var dtype = proposals[0].dtype;
        var gtBoxes = targets.Select(t => t["boxes"].to(dtype)).ToArray();
        var withGt = proposals.Select((p, i) => cat([p, gtBoxes[i]], 0)).ToArray();
        var (matchedIdxs, labels) = AssignTargetsToProposals(withGt, gtBoxes, targets.Select(t => t["labels"]).ToArray());
        var (positive, negative) = _sampler.Sample(labels);
        var matchedGtBoxes = new Tensor[withGt.Length];
        for (int i = 0; i < withGt.Length; i++)
        {
            var sampled = positive[i].bitwise_or(negative[i]).nonzero().view(-1);
            withGt[i] = withGt[i].index_select(0, sampled);
            labels[i] = labels[i].index_select(0, sampled);
            matchedIdxs[i] = matchedIdxs[i].index_select(0, sampled);
            // An image without ground truth has only background proposals; their targets are never used.
            var gt = gtBoxes[i].numel() == 0 ? zeros(1, 4, dtype, proposals[i].device) : gtBoxes[i];
            matchedGtBoxes[i] = gt.index_select(0, matchedIdxs[i]);
        }
        var regressionTargets = _boxCoder.Encode(matchedGtBoxes, withGt);
        Tensor[] Out(Tensor[] ts) => ts.Select(t => t.MoveToOuterDisposeScope()).ToArray();
        return (Out(withGt), Out(matchedIdxs), Out(labels), Out(regressionTargets));
    }

    /// <summary>
    /// assign_targets_to_proposals: per image, the matched ground-truth index (clamped to 0) and the label of each
    /// proposal: the matched box's label, 0 below the background threshold, -1 (ignored) between the thresholds.
    /// </summary>
    (Tensor[] MatchedIdxs, Tensor[] Labels) AssignTargetsToProposals(Tensor[] proposals, Tensor[] gtBoxes, Tensor[] gtLabels)
    {
        var matched = new Tensor[proposals.Length];
        var labels = new Tensor[proposals.Length];
        for (int i = 0; i < proposals.Length; i++)
        {
            if (gtBoxes[i].numel() == 0)
            {
                matched[i] = zeros(proposals[i].shape[0], ScalarType.Int64, proposals[i].device);
                labels[i] = zeros(proposals[i].shape[0], ScalarType.Int64, proposals[i].device);
                continue;
            }
            var matches = _matcher.Match(BoxOps.Iou(gtBoxes[i], proposals[i]));
            matched[i] = matches.clamp_min(0);
            labels[i] = gtLabels[i].index_select(0, matched[i]).to(ScalarType.Int64)
                .masked_fill(matches.eq(Matcher.BelowLowThreshold), 0)
                .masked_fill(matches.eq(Matcher.BetweenThresholds), -1);
        }
        return (matched, labels);
    }

    /// <summary>
    /// fastrcnn_loss: cross entropy of the class logits over all sampled proposals, and smooth L1 (beta 1/9, summed,
    /// divided by the number of proposals) between each positive's regression for its own class and its target.
    /// </summary>
    public static (Tensor Classifier, Tensor BoxRegression) FastRcnnLoss(Tensor classLogits, Tensor boxRegression, IReadOnlyList<Tensor> labels, IReadOnlyList<Tensor> regressionTargets)
    {
        using var scope = NewDisposeScope();
        var allLabels = cat(labels.ToList(), 0);
        var targets = cat(regressionTargets.ToList(), 0);
        var classification = nn.functional.cross_entropy(classLogits, allLabels);
        var positive = allLabels.gt(0).nonzero().view(-1);
        long n = classLogits.shape[0], classes = boxRegression.shape[^1] / 4;
        // box_regression[positive, labels[positive]]: row positive·classes + label of the [N·classes, 4] view.
        var rows = positive * classes + allLabels.index_select(0, positive);
        var boxLoss = nn.functional.smooth_l1_loss(boxRegression.reshape(n * classes, 4).index_select(0, rows), targets.index_select(0, positive),
            nn.Reduction.Sum, beta: 1.0 / 9) / allLabels.numel();
        return (classification.MoveToOuterDisposeScope(), boxLoss.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// postprocess_detections: softmax scores, decoded boxes clipped to each image, background dropped, one candidate
    /// per class above the score threshold, boxes under 0.01 px removed, per-class NMS, the best
    /// <see cref="RoiHeadsOptions.DetectionsPerImage"/> kept. Returns boxes, scores and labels per image.
    /// </summary>
    public (Tensor[] Boxes, Tensor[] Scores, Tensor[] Labels) PostprocessDetections(Tensor classLogits, Tensor boxRegression,
        IReadOnlyList<Tensor> proposals, IReadOnlyList<(int Height, int Width)> imageShapes)
    {
        using var scope = NewDisposeScope();
        long numClasses = classLogits.shape[^1];
        var counts = proposals.Select(p => p.shape[0]).ToArray();
        var predBoxes = _boxCoder.Decode(boxRegression, proposals).split(counts, 0);
        var predScores = nn.functional.softmax(classLogits, -1).split(counts, 0);
        var boxes = new Tensor[proposals.Count];
        var scores = new Tensor[proposals.Count];
        var labels = new Tensor[proposals.Count];
        for (int i = 0; i < proposals.Count; i++)
        {
            var b = BoxOps.ClipToImage(predBoxes[i], imageShapes[i]);
            var s = predScores[i];
            var l = arange(numClasses, ScalarType.Int64, classLogits.device).view(1, -1).expand_as(s);
            b = b[.., 1..].reshape(-1, 4);
            s = s[.., 1..].reshape(-1);
            l = l[.., 1..].reshape(-1);
            var keep = s.gt(Options.ScoreThreshold).nonzero().view(-1);
            (b, s, l) = (b.index_select(0, keep), s.index_select(0, keep), l.index_select(0, keep));
            keep = BoxOps.RemoveSmall(b, 1e-2);
            (b, s, l) = (b.index_select(0, keep), s.index_select(0, keep), l.index_select(0, keep));
            keep = BoxOps.BatchedNms(b, s, l, Options.NmsThreshold);
            keep = keep[..(int)Math.Min(keep.shape[0], Options.DetectionsPerImage)];
            boxes[i] = b.index_select(0, keep).MoveToOuterDisposeScope();
            scores[i] = s.index_select(0, keep).MoveToOuterDisposeScope();
            labels[i] = l.index_select(0, keep).MoveToOuterDisposeScope();
        }
        return (boxes, scores, labels);
    }

    void CheckTargets(IReadOnlyList<Dictionary<string, Tensor>> targets, int images)
    {
        if (targets.Count != images) throw new ArgumentException($"RoiHeads: {targets.Count} targets for {images} images", nameof(targets));
        for (int i = 0; i < targets.Count; i++)
        {
            var t = targets[i];
            if (!t.TryGetValue("boxes", out var boxes)) throw new ArgumentException($"RoiHeads: target {i} has no \"boxes\"", nameof(targets));
            if (!t.TryGetValue("labels", out var labels)) throw new ArgumentException($"RoiHeads: target {i} has no \"labels\"", nameof(targets));
            if (boxes.dtype is not (ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16))
                throw new ArgumentException($"RoiHeads: target {i}'s boxes are {boxes.dtype}; they must be floating point", nameof(targets));
            if (boxes.dim() != 2 || boxes.shape[1] != 4)
                throw new ArgumentException($"RoiHeads: target {i}'s boxes have shape [{string.Join(", ", boxes.shape)}], expected [G, 4]", nameof(targets));
            if (labels.dtype != ScalarType.Int64 || labels.dim() != 1 || labels.shape[0] != boxes.shape[0])
                throw new ArgumentException($"RoiHeads: target {i}'s labels are {labels.dtype} [{string.Join(", ", labels.shape)}]; expected int64 [{boxes.shape[0]}]", nameof(targets));
            if (!HasKeypoints) continue;
            if (!t.TryGetValue("keypoints", out var keypoints)) throw new ArgumentException($"RoiHeads: target {i} has no \"keypoints\"", nameof(targets));
            if (keypoints.dtype != ScalarType.Float32 || keypoints.dim() != 3 || keypoints.shape[0] != boxes.shape[0] || keypoints.shape[2] != 3)
                throw new ArgumentException($"RoiHeads: target {i}'s keypoints are {keypoints.dtype} [{string.Join(", ", keypoints.shape)}]; expected float32 [{boxes.shape[0]}, K, 3]", nameof(targets));
        }
    }
}
