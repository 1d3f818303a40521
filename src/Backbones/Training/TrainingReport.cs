using System.Text.Json;
using System.Text.Json.Serialization;
using Backbones.IO;
using Backbones.Transfer;

namespace Backbones.Training;

/// <summary>
/// The run's final <c>report.json</c>: the recipe, the parameter groups, what was frozen, every epoch, the best epoch
/// with its accuracy and its per-class precision, recall and confusion matrix.
/// </summary>
public sealed record TrainingReport(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("recipe")] IReadOnlyDictionary<string, object?> Recipe,
    [property: JsonPropertyName("groups")] IReadOnlyList<TrainingReport.Group> Groups,
    [property: JsonPropertyName("trainable_params")] long TrainableParameters,
    [property: JsonPropertyName("frozen_params")] long FrozenParameters,
    [property: JsonPropertyName("epochs")] IReadOnlyList<EpochMetrics> Epochs,
    [property: JsonPropertyName("best_epoch")] int BestEpoch,
    [property: JsonPropertyName("best_val_acc")] double BestAccuracy,
    [property: JsonPropertyName("classes")] IReadOnlyList<TrainingReport.ClassScore> Classes,
    [property: JsonPropertyName("confusion")] long[][] Confusion)
{
    public sealed record Group([property: JsonPropertyName("name")] string Name, [property: JsonPropertyName("lr")] double LearningRate,
        [property: JsonPropertyName("weight_decay")] double WeightDecay, [property: JsonPropertyName("params")] long Parameters);

    public sealed record ClassScore([property: JsonPropertyName("name")] string Name, [property: JsonPropertyName("precision")] double Precision,
        [property: JsonPropertyName("recall")] double Recall, [property: JsonPropertyName("support")] long Support);

    /// <summary>Per class of <paramref name="confusion"/>: precision, recall and support.</summary>
    public static IReadOnlyList<ClassScore> Scores(ConfusionMatrix confusion) =>
        confusion.Classes.Select((name, c) => new ClassScore(name, confusion.Precision(c), confusion.Recall(c), confusion.Support(c))).ToList();

    internal static void Write(string path, FineTuner tuner, FineTuneResult result)
    {
        var trainable = TrainableSummary.Of(tuner.Model);
        var confusion = result.BestConfusion;
        var report = new TrainingReport(tuner.Model.Architecture, tuner.Recipe(),
            tuner.Groups.Groups.Select(g => new Group(g.Name, g.LearningRate, g.WeightDecay, g.ElementCount)).ToList(),
            trainable.TrainableElements, trainable.FrozenElements, result.Epochs, result.BestEpoch, result.BestAccuracy,
            confusion is null ? [] : Scores(confusion), confusion?.Rows() ?? []);
        var json = JsonSerializer.SerializeToUtf8Bytes(report, new JsonSerializerOptions { WriteIndented = true });
        AtomicFile.Write(path, stream => stream.Write(json));
    }
}
