namespace Backbones.Training;

/// <summary>Watches a fine-tuning run: each step, each finished epoch (and whether it is the best so far), and notes.</summary>
public interface IFineTuneObserver
{
    void OnStep(StepProgress progress) { }
    void OnEpoch(EpochMetrics metrics, bool best) { }
    void OnMessage(string message) { }
}
