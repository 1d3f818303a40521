namespace Backbones.Training;

/// <summary>How a run ended: every epoch's metrics, the best epoch, whether it was interrupted, and the files it wrote.</summary>
public sealed record FineTuneResult(IReadOnlyList<EpochMetrics> Epochs, int BestEpoch, double BestAccuracy, bool Interrupted, string RunFolder,
    ConfusionMatrix? BestConfusion)
{
    public EpochMetrics? Last => Epochs.Count > 0 ? Epochs[^1] : null;

    public override string ToString() => Interrupted
        ? $"interrupted after {Epochs.Count} epochs; {Path.Combine(RunFolder, FineTuner.LastFile)} resumes it"
        : FormattableString.Invariant($"{Epochs.Count} epochs; best validation accuracy {BestAccuracy * 100:F2}% at epoch {BestEpoch}");
}
