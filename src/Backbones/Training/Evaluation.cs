using Backbones.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Training;

/// <summary>What a model scored on a labelled set: mean cross-entropy, top-1 and top-5 accuracy, the confusion matrix.</summary>
public sealed record EvaluationResult(double Loss, double Top1, double Top5, ConfusionMatrix Confusion, int Count)
{
    public override string ToString() =>
        FormattableString.Invariant($"{Count} images: loss {Loss:F4}, top-1 {Top1 * 100:F2}%, top-5 {Top5 * 100:F2}%");
}

/// <summary>
/// Runs a classifier over a data loader in eval mode without autograd and scores it; the model's mode is restored after.
/// </summary>
public static class Evaluation
{
    public static EvaluationResult Evaluate(nn.Module<Tensor, Tensor> model, DataLoader loader, Device? device = null, double labelSmoothing = 0,
        CancellationToken cancellation = default)
    {
        var classes = loader.Dataset.Classes;
        var confusion = new ConfusionMatrix(classes);
        double lossSum = 0;
        long top5 = 0;
        int count = 0;
        bool wasTraining = model.training;
        model.eval();
        try
        {
            foreach (var batch in loader.Epoch(0, cancellation))
            {
                using (batch)
                using (var scope = NewDisposeScope())
                using (inference_mode())
                {
                    var labels = device is null ? batch.Labels : batch.Labels.to(device);
                    var logits = model.call(device is null ? batch.Images : batch.Images.to(device));
                    if (logits.dim() != 2 || logits.shape[1] != classes.Count)
                        throw new InvalidOperationException($"the model gives [{string.Join(", ", logits.shape)}] logits for {classes.Count} classes");
                    lossSum += nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.Sum, label_smoothing: labelSmoothing).item<float>();
                    int k = Math.Min(5, classes.Count);
                    var top = logits.topk(k).indexes.cpu();
                    var truth = labels.cpu().data<long>().ToArray();
                    var predicted = top.data<long>().ToArray();
                    for (int row = 0; row < truth.Length; row++)
                    {
                        confusion.Add((int)truth[row], (int)predicted[row * k]);
                        for (int j = 0; j < k; j++)
                            if (predicted[row * k + j] == truth[row]) { top5++; break; }
                    }
                    count += truth.Length;
                }
            }
        }
        finally
        {
            model.train(wasTraining);
        }
        return new EvaluationResult(count == 0 ? 0 : lossSum / count, confusion.Accuracy, count == 0 ? 0 : top5 / (double)count, confusion, count);
    }
}
