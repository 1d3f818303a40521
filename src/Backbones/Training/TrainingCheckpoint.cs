using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Training;

/// <summary>
/// A fine-tuning checkpoint as torchvision's reference scripts write one, readable by <c>torch.load</c>: <c>model</c>
/// (the state dict), <c>optimizer</c> (torch.optim's state dict), <c>epoch</c> (epochs completed), and to resume
/// exactly: the global <c>step</c>, the steps done in an interrupted epoch with its running sums, the metrics so far,
/// the best validation accuracy, the architecture, the classes and the recipe.
/// </summary>
public sealed record TrainingCheckpoint
{
    public required string Architecture { get; init; }
    public required IReadOnlyList<string> Classes { get; init; }
    public required int EpochsDone { get; init; }
    public required long Step { get; init; }

    /// <summary>Batches of epoch <see cref="EpochsDone"/> + 1 already trained (0 at an epoch boundary).</summary>
    public int EpochStep { get; init; }

    /// <summary>The interrupted epoch's running sums, so its metrics come out as an uninterrupted epoch's.</summary>
    public double PartialLossSum { get; init; }
    public long PartialCorrect { get; init; }
    public long PartialSeen { get; init; }

    public IReadOnlyList<EpochMetrics> Metrics { get; init; } = [];
    public double BestAccuracy { get; init; }
    public int BestEpoch { get; init; }

    /// <summary>The best epoch's validation confusion matrix, rows true classes.</summary>
    public long[][]? BestConfusion { get; init; }
    public IReadOnlyDictionary<string, object?> Recipe { get; init; } = new Dictionary<string, object?>();

    /// <summary>Writes the checkpoint atomically with the model's state and the optimizer's.</summary>
    public void Save(string path, nn.Module model, TrainingOptimizer optimizer)
    {
        // The optimizer's state dict makes Adam's step counters as new scalar tensors: they die with this scope.
        using var scope = NewDisposeScope();
        var state = new PyDict { Ordered = true };
        foreach (var (key, tensor) in model.OrderedStateDict()) state[key] = tensor;
        var root = new PyDict
        {
            ["model"] = state,
            ["optimizer"] = optimizer.ToStateDict(),
            ["epoch"] = (long)EpochsDone,
            ["step"] = Step,
            ["epoch_step"] = (long)EpochStep,
            ["partial"] = new PyDict { ["loss_sum"] = PartialLossSum, ["correct"] = PartialCorrect, ["seen"] = PartialSeen },
            ["metrics"] = Metrics.Select(MetricsEntry).Cast<object?>().ToList(),
            ["best_acc"] = BestAccuracy,
            ["best_epoch"] = (long)BestEpoch,
            ["best_confusion"] = BestConfusion?.Select(row => (object?)row.Select(c => (object?)c).ToList()).ToList(),
            ["arch"] = Architecture,
            ["classes"] = Classes.Cast<object?>().ToList(),
            ["args"] = ToPyDict(Recipe),
        };
        Checkpoint.Save(path, root, CheckpointFormat.PthZip);
    }

    /// <summary>
    /// Reads a checkpoint this type wrote: loads <c>model</c> into <paramref name="model"/> (strictly) and
    /// <c>optimizer</c> into <paramref name="optimizer"/>, and returns the rest.
    /// </summary>
    public static TrainingCheckpoint Load(string path, nn.Module model, TrainingOptimizer optimizer)
    {
        using var checkpoint = Checkpoint.Load(path);
        if (checkpoint.Root is not PyDict root) throw new CheckpointFormatException(path, null, "is not a dictionary; not a fine-tuning checkpoint");
        T Get<T>(string key) => root.GetValueOrDefault(key) is T value ? value
            : throw new CheckpointFormatException(path, key, $"is missing or not a {typeof(T).Name}; not a fine-tuning checkpoint");
        using (var state = checkpoint.TakeStateDict("model"))
        {
            var report = model.LoadStateDict(state, strict: false);
            if (report.Missing.Count > 0 || report.Unexpected.Count > 0 || report.Mismatched.Count > 0)
                throw new CheckpointFormatException(path, "model", $"does not fit this run's model: {report}");
        }
        optimizer.LoadStateDict(Get<PyDict>("optimizer"), path);
        var partial = Get<PyDict>("partial");
        return new TrainingCheckpoint
        {
            Architecture = Get<string>("arch"),
            Classes = Get<System.Collections.IList>("classes").Cast<object?>().Select(c => c as string ?? throw new CheckpointFormatException(path, "classes", "holds a value that is not a name")).ToList(),
            EpochsDone = (int)Get<long>("epoch"),
            Step = Get<long>("step"),
            EpochStep = (int)Get<long>("epoch_step"),
            PartialLossSum = Number(partial.GetValueOrDefault("loss_sum")),
            PartialCorrect = (long)Number(partial.GetValueOrDefault("correct")),
            PartialSeen = (long)Number(partial.GetValueOrDefault("seen")),
            Metrics = Get<System.Collections.IList>("metrics").Cast<object?>().Select(m => ReadMetrics(m as PyDict, path)).ToList(),
            BestAccuracy = Number(root.GetValueOrDefault("best_acc")),
            BestEpoch = (int)Number(root.GetValueOrDefault("best_epoch")),
            BestConfusion = (root.GetValueOrDefault("best_confusion") as System.Collections.IList)?.Cast<object?>()
                .Select(row => (row as System.Collections.IList ?? throw new CheckpointFormatException(path, "best_confusion", "holds a row that is not a list"))
                    .Cast<object?>().Select(c => (long)Number(c)).ToArray()).ToArray(),
            Recipe = Get<PyDict>("args").ToDictionary(kv => kv.Key.ToString()!, kv => kv.Value),
        };
    }

    static double Number(object? value) => value switch
    {
        double d => d,
        long l => l,
        int i => i,
        _ => 0,
    };

    static PyDict MetricsEntry(EpochMetrics m) => new()
    {
        ["epoch"] = (long)m.Epoch, ["train_loss"] = m.TrainLoss, ["train_acc"] = m.TrainAccuracy, ["val_loss"] = m.ValidationLoss,
        ["val_acc"] = m.ValidationAccuracy, ["val_top5"] = m.ValidationTop5,
        ["lr"] = ToPyDict(m.LearningRates.ToDictionary(kv => kv.Key, kv => (object?)kv.Value)),
        ["seconds"] = m.Seconds, ["images_per_s"] = m.ImagesPerSecond,
    };

    static EpochMetrics ReadMetrics(PyDict? d, string path)
    {
        if (d is null) throw new CheckpointFormatException(path, "metrics", "holds an entry that is not a dictionary");
        double N(string key) => Number(d.GetValueOrDefault(key));
        var lr = (d.GetValueOrDefault("lr") as PyDict ?? new PyDict()).ToDictionary(kv => kv.Key.ToString()!, kv => Number(kv.Value));
        return new EpochMetrics((int)N("epoch"), N("train_loss"), N("train_acc"), N("val_loss"), N("val_acc"), N("val_top5"), lr, N("seconds"), N("images_per_s"));
    }

    static PyDict ToPyDict(IReadOnlyDictionary<string, object?> values)
    {
        var d = new PyDict();
        foreach (var (k, v) in values) d[k] = v;
        return d;
    }
}
