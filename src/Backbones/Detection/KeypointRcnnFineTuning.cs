using Backbones.Transfer;

namespace Backbones.Detection;

/// <summary>What <see cref="KeypointRcnn.PrepareFineTuning"/> did: each freeze and unfreeze, the replaced predictor (the old one is the caller's to dispose), and what trains now.</summary>
public sealed record KeypointRcnnFineTuning(IReadOnlyList<FreezeReport> Steps, ModuleReplacement? Predictor, TrainableSummary Trainable)
{
    public override string ToString() =>
        string.Join(Environment.NewLine, Steps.Select(s => s.Operation).Append(Predictor?.ToString() ?? "keypoint predictor kept").Append(Trainable.ToString()));
}
