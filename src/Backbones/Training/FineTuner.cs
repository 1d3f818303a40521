using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Backbones.Data;
using Backbones.IO;
using Backbones.Models;
using Backbones.Runtime;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Training;

/// <summary>
/// Fine-tunes a zoo model on a training loader and scores it on a validation loader after each epoch, from the
/// toolkit's pieces: a head group and a backbone group with their own learning rates, freezing (BatchNorm included)
/// that may end at a given epoch, a schedule, label smoothing. It writes a run folder (last.pth, best.pth,
/// metrics.jsonl, report.json) and resumes from last.pth to exactly what an uninterrupted run gives.
/// </summary>
/// <remarks>
/// Everything random follows the seed: batches and augmentations are the loader's (a function of seed, epoch and
/// sample), and libtorch's generator (dropout) is reseeded from (seed, epoch, step) before every step, so a run
/// resumed mid-epoch draws what the uninterrupted run drew. The optimizer holds every parameter from the start, frozen
/// ones included: they get no gradient, so they cost no backward work and no update until they are unfrozen.
/// </remarks>
public sealed class FineTuner : IDisposable
{
    public const string LastFile = "last.pth", BestFile = "best.pth", MetricsFile = "metrics.jsonl", ReportFile = "report.json";
    public const string CurvesFile = "curves.png", ConfusionFile = "confusion.png";
    public const string HeadGroup = "head", BackboneGroup = "backbone";

    readonly Backbone _model;

    public Backbone Model => _model;
    readonly DataLoader _train, _validation;
    readonly Device _device;
    readonly LearningRateSchedule _schedule;
    readonly OneDnnBackwardGuard _oneDnnGuard;
    bool _frozen;

    public FineTuner(Backbone model, DataLoader train, DataLoader validation, FineTuneOptions options)
    {
        options.Validate();
        if (train.Options.BatchSize != options.BatchSize) throw new ArgumentException($"the training loader's batch is {train.Options.BatchSize}, the options say {options.BatchSize}");
        if (train.BatchCount == 0) throw new ArgumentException($"no training batch: {train.Dataset.Count} images, batch {options.BatchSize}");
        if (train.Dataset.Classes.Count != model.NumClasses)
            throw new ArgumentException($"{model.Architecture} has {model.NumClasses} outputs, the data {train.Dataset.Classes.Count} classes");
        if (!train.Dataset.Classes.SequenceEqual(validation.Dataset.Classes)) throw new ArgumentException("the training and validation sets name different classes");
        _model = model;
        _train = train;
        _validation = validation;
        Options = options;
        _device = torch.device(options.Device);
        model.to(_device);
        _oneDnnGuard = OneDnn.GuardBackward(model);

        // Groups before freezing, so frozen parameters are in their group when they are unfrozen.
        Groups = ParameterGroups.For(model)
            .Add(HeadGroup, [model.ClassifierPath], options.LearningRate)
            .Add(BackboneGroup, ["*"], options.BackboneLearningRate ?? options.LearningRate)
            .Build(options.LearningRate, options.DefaultWeightDecay);
        Optimizer = new TrainingOptimizer(options.Optimizer, Groups, options.Momentum);
        FreezeReport = Freeze();
        _schedule = new LearningRateSchedule(options.Schedule, options.Epochs, train.BatchCount, options.StepSize, options.Gamma);
    }

    public FineTuneOptions Options { get; }
    public ParameterGroupSet Groups { get; }
    public TrainingOptimizer Optimizer { get; }

    /// <summary>What freezing did at the start (null when nothing is frozen).</summary>
    public FreezeReport? FreezeReport { get; }

    public LearningRateSchedule Schedule => _schedule;

    public ConfusionMatrix? BestConfusion { get; private set; }

    /// <summary>
    /// Trains the remaining epochs into <paramref name="runFolder"/>. With <paramref name="resume"/>, continues from its
    /// last.pth; without, refuses a folder that already holds a run. Cancelling finishes the current step, writes
    /// last.pth and returns with <see cref="FineTuneResult.Interrupted"/> set.
    /// </summary>
    public FineTuneResult Run(string runFolder, bool resume = false, IFineTuneObserver? observer = null, CancellationToken cancellation = default)
    {
        observer ??= new SilentObserver();
        string last = Path.Combine(runFolder, LastFile);
        TrainingCheckpoint state;
        if (resume)
        {
            if (!File.Exists(last)) throw new FileNotFoundException($"nothing to resume: {last} does not exist", last);
            state = TrainingCheckpoint.Load(last, _model, Optimizer);
            CheckSameRun(state, last, observer);
            observer.OnMessage(state.EpochStep > 0
                ? $"resuming {last}: epoch {state.EpochsDone + 1}, step {state.EpochStep} of {_train.BatchCount}"
                : $"resuming {last}: {state.EpochsDone} of {Options.Epochs} epochs done");
        }
        else
        {
            if (File.Exists(last)) throw new IOException($"{runFolder} already holds a run ({LastFile}); resume it or choose another folder");
            Directory.CreateDirectory(runFolder);
            state = new TrainingCheckpoint { Architecture = _model.Architecture, Classes = _train.Dataset.Classes, EpochsDone = 0, Step = 0, Recipe = Recipe() };
        }

        var metrics = state.Metrics.ToList();
        long step = state.Step;
        for (int epoch = state.EpochsDone; epoch < Options.Epochs; epoch++)
        {
            UnfreezeIfDue(epoch, observer);
            bool resumedHere = epoch == state.EpochsDone && state.EpochStep > 0;
            int firstBatch = resumedHere ? state.EpochStep : 0;
            double lossSum = resumedHere ? state.PartialLossSum : 0;
            long correct = resumedHere ? state.PartialCorrect : 0, seen = resumedHere ? state.PartialSeen : 0, seenHere = 0;
            var clock = Stopwatch.StartNew();
            _model.train();
            int done = firstBatch;
            foreach (var batch in _train.Epoch(epoch, default, firstBatch))
            {
                using (batch)
                {
                    var (loss, right) = TrainStep(batch, epoch, step);
                    lossSum += loss * batch.Count;
                    correct += right;
                    seen += batch.Count;
                    seenHere += batch.Count;
                    step++;
                    done++;
                }
                observer.OnStep(new StepProgress(epoch + 1, Options.Epochs, done, _train.BatchCount, lossSum / seen, correct / (double)seen,
                    seenHere / clock.Elapsed.TotalSeconds));
                if (cancellation.IsCancellationRequested && done < _train.BatchCount)
                {
                    var partial = state with
                    {
                        EpochsDone = epoch, Step = step, EpochStep = done, PartialLossSum = lossSum, PartialCorrect = correct, PartialSeen = seen,
                        Metrics = metrics,
                    };
                    partial.Save(last, _model, Optimizer);
                    return new FineTuneResult(metrics, state.BestEpoch, state.BestAccuracy, Interrupted: true, runFolder, BestConfusion);
                }
            }
            double trainSeconds = clock.Elapsed.TotalSeconds;
            var rates = Optimizer.LearningRates;
            var scored = Evaluation.Evaluate(_model, _validation, _device, Options.LabelSmoothing);
            var epochMetrics = new EpochMetrics(epoch + 1, lossSum / seen, correct / (double)seen, scored.Loss, scored.Top1, scored.Top5,
                rates, clock.Elapsed.TotalSeconds, seenHere / trainSeconds);
            metrics.Add(epochMetrics);
            bool isBest = metrics.Count == 1 || scored.Top1 > state.BestAccuracy;
            state = state with { EpochsDone = epoch + 1, Step = step, EpochStep = 0, PartialLossSum = 0, PartialCorrect = 0, PartialSeen = 0, Metrics = metrics };
            if (isBest)
            {
                BestConfusion = scored.Confusion;
                state = state with { BestAccuracy = scored.Top1, BestEpoch = epoch + 1, BestConfusion = scored.Confusion.Rows() };
                state.Save(Path.Combine(runFolder, BestFile), _model, Optimizer);
                TrainingCharts.WriteConfusion(Path.Combine(runFolder, ConfusionFile), scored.Confusion, $"{_model.Architecture}, epoch {epoch + 1} (best)");
            }
            state.Save(last, _model, Optimizer);
            WriteMetrics(Path.Combine(runFolder, MetricsFile), metrics);
            TrainingCharts.WriteCurves(Path.Combine(runFolder, CurvesFile), metrics, _model.Architecture);
            observer.OnEpoch(epochMetrics, isBest);
            if (cancellation.IsCancellationRequested && epoch + 1 < Options.Epochs)
                return new FineTuneResult(metrics, state.BestEpoch, state.BestAccuracy, Interrupted: true, runFolder, BestConfusion);
        }
        BestConfusion ??= state.BestConfusion is { } rows ? ConfusionMatrix.FromRows(_train.Dataset.Classes, rows) : null;
        var result = new FineTuneResult(metrics, state.BestEpoch, state.BestAccuracy, Interrupted: false, runFolder, BestConfusion);
        TrainingReport.Write(Path.Combine(runFolder, ReportFile), this, result);
        return result;
    }

    /// <summary>One optimizer step on one batch; returns the batch's mean loss and its correct predictions.</summary>
    (double Loss, long Correct) TrainStep(DataBatch batch, int epoch, long step)
    {
        using var scope = NewDisposeScope();
        torch.random.manual_seed((long)(DeterministicRandom.For(Options.Seed, epoch, batch.Number, 0x5eed).NextUInt64() >> 1));
        Optimizer.SetFactor(_schedule.Factor(epoch, step));
        Optimizer.ZeroGrad();
        var images = batch.Images.to(_device);
        var labels = batch.Labels.to(_device);
        var logits = _model.call(images);
        var loss = nn.functional.cross_entropy(logits, labels, label_smoothing: Options.LabelSmoothing);
        loss.backward();
        Optimizer.Step();
        using var _ = no_grad();
        long right = logits.argmax(1).eq(labels).sum().item<long>();
        return (loss.item<float>(), right);
    }

    FreezeReport? Freeze()
    {
        bool statistics = Options.FreezeBatchNorm;
        FreezeReport? report = null;
        if (Options.FreezeUntil is { } until) report = _model.FreezeUntil(until, statistics);
        else if (Options.Freeze.Count > 0)
        {
            report = _model.Freeze([.. Options.Freeze]);
            if (statistics) _model.FreezeBatchNorm([.. Options.Freeze]);
        }
        else if (statistics) report = _model.FreezeBatchNorm();
        _frozen = Options.Freeze.Count > 0 || Options.FreezeUntil is not null;
        return report;
    }

    void UnfreezeIfDue(int epoch, IFineTuneObserver observer)
    {
        if (!_frozen || Options.UnfreezeAtEpoch is not { } at || epoch + 1 < at) return;
        _model.UnfreezeBatchNorm();
        var report = _model.Unfreeze("*");
        _frozen = false;
        observer.OnMessage($"epoch {epoch + 1}: everything trains now ({report.Unfrozen.Count} tensors unfrozen)");
    }

    /// <summary>The recipe as the checkpoint's <c>args</c>: what decides the numbers of a run.</summary>
    public IReadOnlyDictionary<string, object?> Recipe() => new Dictionary<string, object?>
    {
        ["model"] = _model.Architecture,
        ["weights"] = _model.LoadedWeights is { } w ? w.Catalogue?.Name ?? w.File : null,
        ["epochs"] = (long)Options.Epochs,
        ["batch_size"] = (long)Options.BatchSize,
        ["optimizer"] = Options.Optimizer.ToString().ToLowerInvariant(),
        ["lr"] = Options.LearningRate,
        ["lr_backbone"] = Options.BackboneLearningRate ?? Options.LearningRate,
        ["momentum"] = Options.Momentum,
        ["weight_decay"] = Options.DefaultWeightDecay,
        ["freeze"] = string.Join(",", Options.Freeze),
        ["freeze_until"] = Options.FreezeUntil,
        ["unfreeze_at"] = Options.UnfreezeAtEpoch is { } u ? (long)u : null,
        ["freeze_bn"] = Options.FreezeBatchNorm,
        ["schedule"] = _schedule.ToString(),
        ["label_smoothing"] = Options.LabelSmoothing,
        ["seed"] = (long)Options.Seed,
        ["train_images"] = (long)_train.Dataset.Count,
        ["val_images"] = (long)_validation.Dataset.Count,
    };

    void CheckSameRun(TrainingCheckpoint saved, string path, IFineTuneObserver observer)
    {
        if (saved.Architecture != _model.Architecture) throw new InvalidDataException($"{path} trained {saved.Architecture}, this run builds {_model.Architecture}");
        if (!saved.Classes.SequenceEqual(_train.Dataset.Classes)) throw new InvalidDataException($"{path} was trained on other classes ({string.Join(", ", saved.Classes)})");
        var now = Recipe();
        var changed = now.Where(kv => !Equals(Normalize(saved.Recipe.GetValueOrDefault(kv.Key)), Normalize(kv.Value))).Select(kv => kv.Key).ToList();
        if (changed.Count > 0)
            observer.OnMessage($"warning: the recipe differs from {path} in {string.Join(", ", changed)}; the result will not equal an uninterrupted run's");
    }

    static object? Normalize(object? value) => value switch
    {
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture),
    };

    static void WriteMetrics(string path, IReadOnlyList<EpochMetrics> metrics)
    {
        var text = new StringBuilder();
        foreach (var m in metrics) text.Append(JsonSerializer.Serialize(m)).Append('\n');
        AtomicFile.Write(path, stream => stream.Write(Encoding.UTF8.GetBytes(text.ToString())));
    }

    public void Dispose()
    {
        _oneDnnGuard.Dispose();
        Optimizer.Dispose();
    }

    sealed class SilentObserver : IFineTuneObserver;
}
