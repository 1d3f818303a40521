using Backbones.Serialization;
using Backbones.Transfer;
using Backbones.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>The output of <see cref="KeypointRcnn"/>: detections per image (evaluation) or the five losses (training).</summary>
public sealed record KeypointRcnnOutput(IReadOnlyList<Dictionary<string, Tensor>> Detections, IReadOnlyDictionary<string, Tensor> Losses);

/// <summary>
/// torchvision's <c>keypointrcnn_resnet50_fpn</c> (a <c>GeneralizedRCNN</c>): transform, ResNet-50 FPN backbone, RPN and RoI
/// heads with torchvision's state-dict keys, so the official COCO checkpoints (and their legacy layout) load unchanged.
/// </summary>
/// <remarks>
/// Evaluation returns per image "boxes", "labels", "scores", "keypoints" (N×K×3) and "keypoints_scores" in the
/// original images' pixels; training takes targets ("boxes", "labels", "keypoints") and returns "loss_classifier",
/// "loss_box_reg", "loss_keypoint", "loss_objectness" and "loss_rpn_box_reg". Random draws (the transform's size, the
/// samplers) come from libtorch's global generator in torchvision's order, so <c>manual_seed</c> repeats a step.
/// </remarks>
public sealed class KeypointRcnn : nn.Module<IReadOnlyList<Tensor>, IReadOnlyList<IReadOnlyDictionary<string, Tensor>>?, KeypointRcnnOutput>
{
    public const string Architecture = "keypointrcnn_resnet50_fpn";

    readonly RcnnTransform transform;
    readonly BackboneWithFpn backbone;
    readonly RegionProposalNetwork rpn;
    readonly RoiHeads roi_heads;

    public KeypointRcnn(BackboneWithFpn backbone, RegionProposalNetwork rpn, RoiHeads roiHeads, RcnnTransform transform) : base("KeypointRCNN")
    {
        this.transform = transform;
        this.backbone = backbone;
        this.rpn = rpn;
        roi_heads = roiHeads;
        RegisterComponents();
    }

    public RcnnTransform Transform => transform;
    public BackboneWithFpn Backbone => backbone;
    public RegionProposalNetwork Rpn => rpn;
    public RoiHeads RoiHeads => roi_heads;

    /// <summary>What loading the weights did (null for a fresh detector).</summary>
    public LoadReport? Weights { get; private set; }

    /// <summary>Builds the detector as torchvision does, loading <see cref="KeypointRcnnOptions.Weights"/> if given.</summary>
    public static KeypointRcnn Create(KeypointRcnnOptions? options = null)
    {
        options ??= new KeypointRcnnOptions();
        bool pretrained = options.Weights is not null || options.WeightsBackbone is not null;
        int trainable = options.TrainableBackboneLayers ?? (pretrained ? 3 : 5);
        if (trainable is < 0 or > 5) throw new ArgumentOutOfRangeException(nameof(options), trainable, "TrainableBackboneLayers must be within 0..5");
        var backbone = ResNetFpn.Create("resnet50", new ResNetFpnOptions
        {
            TrainableLayers = trainable,
            NormLayer = pretrained ? null : c => nn.BatchNorm2d(c), // torchvision: FrozenBatchNorm2d only under pretrained weights
            Weights = options.Weights is null ? options.WeightsBackbone : null,
            Download = options.Download,
        });
        var model = new KeypointRcnn(backbone, RegionProposalNetwork.ForFpn(ResNetFpn.OutChannels, options.Rpn),
            RoiHeads.KeypointRcnn(ResNetFpn.OutChannels, options.NumClasses, options.NumKeypoints, options.RoiHeads), new RcnnTransform(options.Transform));
        if (options.Weights is not null)
        {
            try
            {
                model.LoadWeights(options.Weights, options.Download);
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        return model;
    }

    /// <summary>Loads a whole-detector checkpoint (catalogue name or file), old key spellings remapped as torchvision does.</summary>
    public LoadReport LoadWeights(string weights, DownloadOptions? download = null)
    {
        string path = File.Exists(weights) ? weights : WeightsDownloader.Ensure(CatalogueEntry(weights), download);
        using var state = StateDict.Load(path);
        backbone.RemapCheckpointKeys(state, "backbone.");
        rpn.RemapCheckpointKeys(state, "rpn.");
        Weights = WeightLoading.LoadStateDict(this, state, strict: true);
        return Weights;
    }

    /// <summary>The catalogue entry of a weights name of this architecture (DEFAULT is COCO_V1).</summary>
    public static WeightsInfo CatalogueEntry(string name) =>
        WeightsCatalogue.Find(Architecture, name)
        ?? throw new ArgumentException($"'{name}' is neither a file nor a weights set of {Architecture} ({string.Join(", ", WeightsCatalogue.For(Architecture).Select(w => w.Name))})", nameof(name));

    /// <summary>
    /// The classic fine-tuning recipe: everything frozen, then the FPN (<paramref name="trainFpn"/>) and the last
    /// <paramref name="trainKeypointHead"/> convolutions of the keypoint head trainable again, and, with
    /// <paramref name="numKeypoints"/>, a fresh keypoint predictor (ConvTranspose2d(512, K, 4, stride 2, padding 1)).
    /// </summary>
    public KeypointRcnnFineTuning PrepareFineTuning(bool trainFpn, int trainKeypointHead, int? numKeypoints = null)
    {
        var convs = roi_heads.named_modules().Where(m => m.name.StartsWith("keypoint_head.", StringComparison.Ordinal) && m.module is TorchSharp.Modules.Conv2d)
            .Select(m => "roi_heads." + m.name).ToList();
        if (trainKeypointHead < 0 || trainKeypointHead > convs.Count)
            throw new ArgumentOutOfRangeException(nameof(trainKeypointHead), trainKeypointHead, $"the keypoint head has {convs.Count} convolutions");
        var reports = new List<FreezeReport> { this.Freeze("*") };
        if (trainFpn) reports.Add(this.Unfreeze("backbone.fpn"));
        if (trainKeypointHead > 0) reports.Add(this.Unfreeze([.. convs.TakeLast(trainKeypointHead)]));
        var predictor = numKeypoints is { } k ? roi_heads.ReplaceKeypointPredictor(k) : null;
        return new KeypointRcnnFineTuning(reports, predictor, TrainableSummary.Of(this));
    }

    /// <param name="images">3×H×W float images in [0, 1], of any sizes.</param>
    /// <param name="targets">Per image its ground truth; required in training, ignored in evaluation.</param>
    public override KeypointRcnnOutput forward(IReadOnlyList<Tensor> images, IReadOnlyList<IReadOnlyDictionary<string, Tensor>>? targets)
    {
        if (training && targets is null) throw new ArgumentException("KeypointRcnn in training mode needs targets (boxes, labels, keypoints per image)", nameof(targets));
        using var scope = NewDisposeScope();
        var originalSizes = images.Select(i => (i.shape[^2], i.shape[^1])).ToList();
        var (batch, batchTargets) = transform.call(images, training ? targets : null);
        var features = backbone.call(batch.Tensors);
        var (proposals, proposalLosses) = rpn.call(batch, features, batchTargets);
        var (detections, detectorLosses) = roi_heads.call(features, proposals, batch.ImageSizes, batchTargets);
        // Training gives no detections (torchvision's postprocess passes the empty list through).
        IReadOnlyList<Dictionary<string, Tensor>> results = training ? detections : transform.Postprocess(detections, batch.ImageSizes, originalSizes);
        var losses = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (key, value) in detectorLosses.Concat(proposalLosses)) losses[key] = value.MoveToOuterDisposeScope();
        foreach (var result in results)
            foreach (var value in result.Values) value.MoveToOuterDisposeScope();
        return new KeypointRcnnOutput(results, losses);
    }
}
