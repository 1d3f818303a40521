namespace Backbones.Training;

/// <summary>Where a run is inside an epoch: the step done of the epoch's steps, running loss and accuracy, images/s.</summary>
public sealed record StepProgress(int Epoch, int Epochs, int Step, int Steps, double Loss, double Accuracy, double ImagesPerSecond);
