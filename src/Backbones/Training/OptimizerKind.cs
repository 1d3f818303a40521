namespace Backbones.Training;

/// <summary>The optimizers fine-tuning offers, as torch.optim names them.</summary>
public enum OptimizerKind { Sgd, Adam, AdamW }
