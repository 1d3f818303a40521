namespace Backbones.Training;

/// <summary>
/// How the learning rate moves over a run: constant; cosine annealing to 0 per step; ×gamma every few epochs
/// (StepLR); one cycle up to the rate and down per step (OneCycleLR, learning rate only).
/// </summary>
public enum ScheduleKind { Constant, Cosine, Step, OneCycle }
