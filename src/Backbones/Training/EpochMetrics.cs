using System.Text.Json.Serialization;

namespace Backbones.Training;

/// <summary>
/// What one epoch of fine-tuning measured: training loss and accuracy (over the epoch's steps, as they ran), validation
/// loss, top-1 and top-5 accuracy (fractions 0 to 1), each parameter group's learning rate at the epoch's end, and speed.
/// </summary>
public sealed record EpochMetrics(
    [property: JsonPropertyName("epoch")] int Epoch,
    [property: JsonPropertyName("train_loss")] double TrainLoss,
    [property: JsonPropertyName("train_acc")] double TrainAccuracy,
    [property: JsonPropertyName("val_loss")] double ValidationLoss,
    [property: JsonPropertyName("val_acc")] double ValidationAccuracy,
    [property: JsonPropertyName("val_top5")] double ValidationTop5,
    [property: JsonPropertyName("lr")] IReadOnlyDictionary<string, double> LearningRates,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("images_per_s")] double ImagesPerSecond);
