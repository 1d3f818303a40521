using System.Globalization;
using Backbones.Data;
using Backbones.Inspection;
using Backbones.Models;
using Backbones.Serialization;
using Backbones.Training;
using Backbones.Transfer;
using Backbones.Vision;
using static TorchSharp.torch;

namespace Backbones.Demo;

/// <summary>What the demo measured and wrote: each model's validation accuracy and its run folder, and the pictures.</summary>
public sealed record DemoResult(FineTuneResult Transfer, FineTuneResult Scratch, int TrainImages, int ValidationImages, string Folder,
    IReadOnlyList<string> Written)
{
    public double TransferAccuracy => Transfer.Last?.ValidationAccuracy ?? 0;
    public double ScratchAccuracy => Scratch.Last?.ValidationAccuracy ?? 0;
}

/// <summary>
/// Transfer learning on real data in a few minutes of CPU: a backbone pretrained on Fashion-MNIST's classes 0–4 is loaded
/// by name into a new model for the classes 5–9, its head replaced and its early stages frozen, and fine-tuned on a few
/// hundred labelled images; the same network trained from scratch with the same steps is the baseline.
/// </summary>
public static class TransferDemo
{
    public static readonly int[] SourceClasses = [0, 1, 2, 3, 4], TargetClasses = [5, 6, 7, 8, 9];
    public const string TrainFilesPrefix = "fashion-mnist-5-9-train", ValidationFilesPrefix = "fashion-mnist-5-9-val";
    public const string CheckpointFile = "resnet10_w16-fashion-mnist-0-4.pth";

    /// <summary>Labelled training images per class the demo fine-tunes on (the shipped files hold 100).</summary>
    public const int LabelsPerClass = 60;

    /// <summary>The transferred model trains from layer3 on; stem, layer1 and layer2 (and their BatchNorms) stay as pretrained.</summary>
    public const string FreezeUntil = "layer3";

    public static FineTuneOptions Recipe { get; } = new()
    {
        Epochs = 6, BatchSize = 32, Optimizer = OptimizerKind.Sgd, LearningRate = 0.05, WeightDecay = 5e-4, Schedule = ScheduleKind.Cosine, Seed = 0,
    };

    /// <summary>Runs both trainings from the files in <paramref name="dataFolder"/> and writes everything under <paramref name="output"/>.</summary>
    public static DemoResult Run(string dataFolder, string output, IFineTuneObserver? observer = null, FineTuneOptions? recipe = null,
        CancellationToken cancellation = default, int labelsPerClass = LabelsPerClass)
    {
        using var trainSet = Open(dataFolder, TrainFilesPrefix);
        using var validationSet = Open(dataFolder, ValidationFilesPrefix);
        return Run(trainSet, validationSet, Path.Combine(dataFolder, CheckpointFile), output, observer, recipe, cancellation, labelsPerClass);
    }

    /// <summary>
    /// The same comparison on any Fashion-MNIST-labelled sets (the full Debian set, for the benchmark): the first
    /// <paramref name="labelsPerClass"/> images of each class 5–9 of <paramref name="trainSet"/> to train, every image of
    /// those classes in <paramref name="validationSet"/> to validate.
    /// </summary>
    public static DemoResult Run(ILabeledDataset trainSet, ILabeledDataset validationSet, string checkpoint, string output, IFineTuneObserver? observer = null,
        FineTuneOptions? recipe = null, CancellationToken cancellation = default, int labelsPerClass = LabelsPerClass)
    {
        recipe ??= Recipe;
        if (!File.Exists(checkpoint)) throw new FileNotFoundException($"the demo's pretrained backbone is missing: {checkpoint}", checkpoint);
        var train = new ClassSubset(trainSet, TargetClasses, labelsPerClass);
        var validation = new ClassSubset(validationSet, TargetClasses);
        foreach (var folder in new[] { "transfer", "scratch" })
            if (File.Exists(Path.Combine(output, folder, FineTuner.LastFile)))
                throw new IOException($"{Path.Combine(output, folder)} already holds a run; choose another output folder");
        var written = new List<string>();

        FineTuneResult transfer;
        random.manual_seed((long)recipe.Seed);
        using (var model = DemoModel.Create(TargetClasses.Length))
        {
            var loaded = PretrainedWeights.Load(model, checkpoint);
            observer?.OnMessage($"transfer: {loaded.Report.Loaded.Count} tensors loaded by name from {checkpoint}");
            var head = Surgery.ReplaceClassifier(model, TargetClasses.Length);
            observer?.OnMessage($"transfer: new head {head}");
            var options = recipe with { FreezeUntil = FreezeUntil, FreezeBatchNorm = true };
            transfer = Train(model, train, validation, options, Path.Combine(output, "transfer"), observer, cancellation);
            written.AddRange(Pictures(model, validation, output, "transfer"));
            var summary = ModelSummary.Create(model, sample: [1, DemoModel.ImageSize, DemoModel.ImageSize]);
            string summaryFile = Path.Combine(output, "summary.txt");
            var text = new StringWriter();
            summary.WriteText(text, depth: 3);
            IO.AtomicFile.Write(summaryFile, s => s.Write(System.Text.Encoding.UTF8.GetBytes(text.ToString())));
            written.Add(summaryFile);
        }

        FineTuneResult scratch;
        random.manual_seed((long)recipe.Seed);
        using (var model = DemoModel.Create(TargetClasses.Length))
        {
            scratch = Train(model, train, validation, recipe, Path.Combine(output, "scratch"), observer, cancellation);
            written.AddRange(Pictures(model, validation, output, "scratch"));
        }
        return new DemoResult(transfer, scratch, train.Count, validation.Count, output, written);
    }

    static IdxDataset Open(string folder, string prefix) =>
        new(Path.Combine(folder, prefix + "-images-idx3-ubyte.gz"), Path.Combine(folder, prefix + "-labels-idx1-ubyte.gz"), IdxDataset.FashionMnistClasses);

    static FineTuneResult Train(Backbone model, ILabeledDataset train, ILabeledDataset validation, FineTuneOptions options, string run,
        IFineTuneObserver? observer, CancellationToken cancellation)
    {
        var trainLoader = new DataLoader(train, DemoModel.TrainTransform, new DataLoaderOptions { BatchSize = options.BatchSize, Seed = options.Seed, Workers = options.Workers });
        var validationLoader = new DataLoader(validation, DemoModel.EvalTransform, new DataLoaderOptions { BatchSize = 250, Shuffle = false, Workers = options.Workers });
        using var tuner = new FineTuner(model, trainLoader, validationLoader, options);
        return tuner.Run(run, observer: observer, cancellation: cancellation);
    }

    const int PictureSize = 8 * DemoModel.ImageSize;

    /// <summary>Channel-mean activation maps of the first validation image of each class at each stage, as PNGs.</summary>
    static IEnumerable<string> Pictures(Backbone model, ILabeledDataset validation, string output, string name)
    {
        string folder = Path.Combine(output, name, "activations");
        Directory.CreateDirectory(folder);
        var written = new List<string>();
        string[] stages = ["layer1", "layer2", "layer3", "layer4"];
        model.eval();
        for (int c = 0; c < validation.Classes.Count; c++)
        {
            int index = Enumerable.Range(0, validation.Count).First(i => validation.Label(i) == c);
            using var scope = NewDisposeScope();
            var gray = validation.Read(index);
            var input = DemoModel.EvalTransform.Apply(gray).unsqueeze(0);
            var maps = ActivationMaps.ChannelMeans(model, input, stages);
            // 28 pixels are too small to see: the picture is shown 8× larger (pixels as blocks), the map smoothly.
            var view = nn.functional.interpolate(gray.unsqueeze(0).to_type(ScalarType.Float32), [PictureSize, PictureSize], mode: InterpolationMode.Nearest)
                .squeeze(0).expand(3, -1, -1).to_type(ScalarType.Byte).contiguous();
            foreach (var stage in stages)
            {
                string file = Path.Combine(folder, $"{validation.Classes[c].Replace('/', '-').Replace(' ', '_')}-{stage}.png");
                var map = nn.functional.interpolate(maps[stage].unsqueeze(0).unsqueeze(0), [PictureSize, PictureSize], mode: InterpolationMode.Bilinear, align_corners: false)[0, 0];
                Heatmap.WritePng(file, Heatmap.Overlay(view, map), PictureSize, PictureSize);
                written.Add(file);
            }
            foreach (var map in maps.Values) map.Dispose();
        }
        return written;
    }

    /// <summary>The two lines the demo is about, accuracies as percentages.</summary>
    public static string Comparison(DemoResult result) => string.Create(CultureInfo.InvariantCulture,
        $"transfer  {result.TransferAccuracy * 100,6:F2}%  validation accuracy after {result.Transfer.Epochs.Count} epochs on {result.TrainImages} labelled images (pretrained on classes 0–4, head replaced, stem to layer2 frozen)\n" +
        $"scratch   {result.ScratchAccuracy * 100,6:F2}%  validation accuracy of the same network from random weights, same steps");
}
