namespace Backbones.Training;

/// <summary>
/// A fine-tuning recipe: epochs and batch, the optimizer and its rates (the backbone may get its own), freezing and
/// when it ends, the schedule, label smoothing, the seed everything random follows, and where it runs.
/// </summary>
public sealed record FineTuneOptions
{
    public int Epochs { get; init; } = 10;
    public int BatchSize { get; init; } = 32;
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;

    /// <summary>The head's learning rate, and the backbone's unless <see cref="BackboneLearningRate"/> says otherwise.</summary>
    public double LearningRate { get; init; } = 0.01;
    public double? BackboneLearningRate { get; init; }

    /// <summary>SGD's momentum (Adam's betas stay torch's defaults, 0.9 and 0.999).</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>Default: 1e-4 for SGD (torchvision's reference recipe), 0 for Adam, 0.01 for AdamW (torch's default).</summary>
    public double? WeightDecay { get; init; }

    /// <summary>Parameter globs to freeze (<c>layer1</c>, <c>features.*</c>).</summary>
    public IReadOnlyList<string> Freeze { get; init; } = [];

    /// <summary>Freeze every parameter registered before this module (<c>layer3</c>: stem, layer1 and layer2 frozen).</summary>
    public string? FreezeUntil { get; init; }

    /// <summary>From this epoch on (1-based) everything trains; the optimizer already holds the frozen parameters.</summary>
    public int? UnfreezeAtEpoch { get; init; }

    /// <summary>
    /// BatchNorm statistics held too: those of the frozen layers, or every BatchNorm when nothing is frozen (eval-mode
    /// normalisation, affine weights not trained), as detection and small-batch recipes want.
    /// </summary>
    public bool FreezeBatchNorm { get; init; }

    public ScheduleKind Schedule { get; init; } = ScheduleKind.Cosine;

    /// <summary>StepLR's period in epochs (default: a third of the run) and factor.</summary>
    public int? StepSize { get; init; }
    public double Gamma { get; init; } = 0.1;

    public double LabelSmoothing { get; init; }
    public ulong Seed { get; init; }

    /// <summary>Data-loading threads (decode and augment ahead of the model).</summary>
    public int Workers { get; init; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary><c>cpu</c>, <c>cuda</c>, <c>cuda:1</c>: where the model and batches live.</summary>
    public string Device { get; init; } = "cpu";

    public double DefaultWeightDecay => WeightDecay ?? Optimizer switch
    {
        OptimizerKind.Sgd => 1e-4,
        OptimizerKind.AdamW => 0.01,
        _ => 0,
    };

    /// <summary>Checks every value, naming the option at fault.</summary>
    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentException($"epochs must be at least 1, not {Epochs}");
        if (BatchSize < 1) throw new ArgumentException($"batch size must be at least 1, not {BatchSize}");
        if (!(LearningRate > 0)) throw new ArgumentException($"learning rate must be positive, not {LearningRate}");
        if (BackboneLearningRate is { } b && !(b >= 0)) throw new ArgumentException($"backbone learning rate must be 0 or more, not {b}");
        if (!(Momentum >= 0 && Momentum < 1)) throw new ArgumentException($"momentum must be in [0, 1), not {Momentum}");
        if (WeightDecay is { } wd && !(wd >= 0)) throw new ArgumentException($"weight decay must be 0 or more, not {wd}");
        if (Freeze.Count > 0 && FreezeUntil is not null) throw new ArgumentException("freeze by pattern or until a stage, not both");
        if (UnfreezeAtEpoch is { } u && (u < 1 || u > Epochs)) throw new ArgumentException($"unfreeze epoch must be within 1..{Epochs}, not {u}");
        if (UnfreezeAtEpoch is not null && Freeze.Count == 0 && FreezeUntil is null) throw new ArgumentException("unfreeze epoch given but nothing is frozen");
        if (StepSize is { } s && s < 1) throw new ArgumentException($"step size must be at least 1 epoch, not {s}");
        if (!(Gamma > 0)) throw new ArgumentException($"gamma must be positive, not {Gamma}");
        if (!(LabelSmoothing >= 0 && LabelSmoothing < 1)) throw new ArgumentException($"label smoothing must be in [0, 1), not {LabelSmoothing}");
        if (Workers < 1) throw new ArgumentException($"workers must be at least 1, not {Workers}");
    }
}
