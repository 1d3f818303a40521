// FashionBench: the demo's comparison on Debian's full Fashion-MNIST (dataset-fashion-mnist): the shipped backbone
// (pretrained by Backbones on all 30,000 training images of classes 0–4) transferred to classes 5–9 against the same
// network from random weights, trained on the first N training images of each class 5–9 with the demo's recipe, and
// validated on all 5,000 test images of classes 5–9. Accuracy is deterministic (same seed, same result); the times
// are for information. Results: bench/results/fashion.json and one run folder per case under bench/results/fashion/.
using System.Diagnostics;
using Backbones.Data;
using Backbones.Demo;
using Backbones.Runtime;
using Backbones.Training;

int[] labels = [50, 200, 1000];
int? epochs = null;
for (int i = 0; i < args.Length; i += 2)
{
    string? value = i + 1 < args.Length ? args[i + 1] : null;
    bool ok = args[i] switch
    {
        "--labels" when value is not null => (labels = value.Split(',').Select(v => int.TryParse(v, out int n) ? n : 0).ToArray()).All(n => n > 0),
        "--epochs" => int.TryParse(value, out int e) && (epochs = e) > 0,
        _ => false,
    };
    if (!ok)
    {
        Console.Error.WriteLine($"usage: FashionBench [--labels 50,200,1000] [--epochs {TransferDemo.Recipe.Epochs}]");
        return 2;
    }
}

string repo = BenchProcess.FindRepo();
string results = Path.Combine(repo, "bench", "results");
string checkpoint = Path.Combine(repo, "samples", "demo", TransferDemo.CheckpointFile);
var recipe = epochs is { } n ? TransferDemo.Recipe with { Epochs = n } : TransferDemo.Recipe;
NativeHeap.KeepFreedMemory(); // as the demo command does
using var train = IdxDataset.FashionMnist(train: true);
using var test = IdxDataset.FashionMnist(train: false);
Console.WriteLine($"Fashion-MNIST from {IdxDataset.DebianFashionMnistFolder}: {train.Count} training, {test.Count} test images; " +
                  $"recipe: {recipe.Optimizer} lr {recipe.LearningRate} {recipe.Schedule}, {recipe.Epochs} epochs, batch {recipe.BatchSize}, seed {recipe.Seed}; " +
                  $"transfer freezes up to {TransferDemo.FreezeUntil} (BatchNorm statistics held)");

var cases = new List<object>();
foreach (int perClass in labels)
{
    string folder = Path.Combine(results, "fashion", $"labels-{perClass}");
    if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); // a benchmark re-run replaces its own runs
    var clock = Stopwatch.StartNew();
    var result = TransferDemo.Run(trainSet: train, validationSet: test, checkpoint: checkpoint, output: folder, recipe: recipe, labelsPerClass: perClass);
    double seconds = clock.Elapsed.TotalSeconds;
    Console.WriteLine($"{perClass,5} labels/class ({result.TrainImages} images, {result.ValidationImages} validation): " +
                      $"transfer {result.TransferAccuracy * 100:F2}%  scratch {result.ScratchAccuracy * 100:F2}%  ({seconds:F0} s)");
    cases.Add(new
    {
        labels_per_class = perClass, train_images = result.TrainImages, validation_images = result.ValidationImages,
        transfer_accuracy = result.TransferAccuracy, scratch_accuracy = result.ScratchAccuracy,
        transfer_best = result.Transfer.BestAccuracy, scratch_best = result.Scratch.BestAccuracy,
        transfer_epochs = result.Transfer.Epochs.Select(e => e.ValidationAccuracy), scratch_epochs = result.Scratch.Epochs.Select(e => e.ValidationAccuracy),
        seconds,
    });
}
string output = Path.Combine(results, "fashion.json");
BenchProcess.WriteReport(output, new
{
    date = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"),
    recipe = new { recipe.Epochs, recipe.BatchSize, optimizer = recipe.Optimizer.ToString(), recipe.LearningRate, recipe.WeightDecay, schedule = recipe.Schedule.ToString(), recipe.Seed, TransferDemo.FreezeUntil },
    accuracy_meaning = "top-1 on all test images of classes 5-9 after the last epoch",
    cases,
});
Console.WriteLine($"wrote {Path.GetRelativePath(repo, output)}");
return 0;
