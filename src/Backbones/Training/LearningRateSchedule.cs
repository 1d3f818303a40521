namespace Backbones.Training;

/// <summary>
/// The factor each group's base learning rate is multiplied by before a given step, as torch's schedulers compute it:
/// CosineAnnealingLR (eta_min 0) stepped per batch, StepLR per epoch, OneCycleLR (pct_start 0.3, div_factor 25,
/// final_div_factor 1e4, cosine annealing) per batch.
/// </summary>
public sealed class LearningRateSchedule(ScheduleKind kind, int epochs, int stepsPerEpoch, int? stepSize = null, double gamma = 0.1)
{
    const double OneCycleWarmup = 0.3, OneCycleStartDivisor = 25, OneCycleFinalDivisor = 1e4;

    public ScheduleKind Kind => kind;

    public int TotalSteps => epochs * stepsPerEpoch;

    /// <summary>StepLR's period: given, or a third of the run (at least one epoch).</summary>
    public int StepSize => stepSize ?? Math.Max(1, epochs / 3);

    /// <summary>The factor for the step that starts at global step <paramref name="step"/> (0-based) of epoch <paramref name="epoch"/> (0-based).</summary>
    public double Factor(int epoch, long step) => kind switch
    {
        ScheduleKind.Constant => 1,
        ScheduleKind.Cosine => 0.5 * (1 + Math.Cos(Math.PI * Math.Min(step, TotalSteps) / TotalSteps)),
        ScheduleKind.Step => Math.Pow(gamma, epoch / StepSize),
        ScheduleKind.OneCycle => OneCycle(step),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    // torch.optim.lr_scheduler.OneCycleLR with three_phase=False: up from max/25 to max over the first 30% of steps,
    // then down to max/25/1e4, each phase a cosine between its ends; phase ends at step 0.3·total − 1 and total − 1.
    double OneCycle(long step)
    {
        double start = 1 / OneCycleStartDivisor, end = start / OneCycleFinalDivisor;
        double warmupEnd = OneCycleWarmup * TotalSteps - 1, last = TotalSteps - 1;
        if (step <= warmupEnd) return Cosine(start, 1, warmupEnd <= 0 ? 1 : step / warmupEnd);
        return Cosine(1, end, (step - warmupEnd) / (last - warmupEnd));
    }

    static double Cosine(double from, double to, double fraction) => to + (from - to) / 2 * (1 + Math.Cos(Math.PI * Math.Min(1, fraction)));

    public override string ToString() => kind switch
    {
        ScheduleKind.Step => $"step (×{gamma} every {StepSize} epochs)",
        ScheduleKind.OneCycle => "one cycle (30% warm-up, cosine)",
        ScheduleKind.Cosine => "cosine to 0",
        _ => "constant",
    };
}
