// Makes what `backbones demo` ships in samples/demo/, from Debian's full Fashion-MNIST (dataset-fashion-mnist):
//  1. the demo's labelled images: the first 100 training images of each of the classes 5–9 and the first 200 test
//     images of each (IDX files, gzip, original labels);
//  2. the pretrained backbone: the demo's quarter-width ResNet-10 trained by Backbones' own fine-tuner on all 30,000
//     training images of the classes 0–4, saved as a plain state dict.
// Same seed, same machine class: same files. Run: dotnet run --project samples/PretrainDemoBackbone [-- OUTPUT_FOLDER]
using System.IO.Compression;
using Backbones.Data;
using Backbones.Demo;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Training;
using Backbones.Transfer;
using static TorchSharp.torch;

string output = args.Length > 0 ? args[0] : Path.Combine(FindRepository(), "samples", "demo");
Directory.CreateDirectory(output);
using var train = IdxDataset.FashionMnist(train: true);
using var test = IdxDataset.FashionMnist(train: false);

WriteSubset(new ClassSubset(train, TransferDemo.TargetClasses, perClass: 100), train, output, TransferDemo.TrainFilesPrefix);
WriteSubset(new ClassSubset(test, TransferDemo.TargetClasses, perClass: 200), test, output, TransferDemo.ValidationFilesPrefix);

random.manual_seed(0);
using var model = DemoModel.Create(TransferDemo.SourceClasses.Length);
var options = new FineTuneOptions { Epochs = 4, BatchSize = 128, LearningRate = 0.1, WeightDecay = 5e-4, Schedule = ScheduleKind.Cosine, Seed = 0 };
var trainLoader = new DataLoader(new ClassSubset(train, TransferDemo.SourceClasses), DemoModel.TrainTransform, new DataLoaderOptions { BatchSize = options.BatchSize, Seed = options.Seed });
var validationLoader = new DataLoader(new ClassSubset(test, TransferDemo.SourceClasses), DemoModel.EvalTransform, new DataLoaderOptions { BatchSize = 256, Shuffle = false });
string run = Path.Combine(Path.GetTempPath(), $"pretrain-demo-{Environment.ProcessId}");
using (var tuner = new FineTuner(model, trainLoader, validationLoader, options))
{
    var result = tuner.Run(run, observer: new Printer());
    Console.WriteLine(result);
}
var state = new PyDict { Ordered = true };
foreach (var (key, tensor) in model.OrderedStateDict()) state[key] = tensor;
string checkpoint = Path.Combine(output, TransferDemo.CheckpointFile);
Checkpoint.Save(checkpoint, state);
Directory.Delete(run, recursive: true);
Console.WriteLine($"wrote {checkpoint}");

static void WriteSubset(ClassSubset subset, IdxDataset source, string folder, string prefix)
{
    var images = new byte[subset.Count * 28 * 28];
    var labels = new byte[subset.Count];
    for (int i = 0; i < subset.Count; i++)
    {
        using var image = subset.Read(i);
        image.to_type(ScalarType.Byte).contiguous().data<byte>().CopyTo(images, i * 28 * 28);
        labels[i] = (byte)subset.SourceClasses[subset.Label(i)];
    }
    // IDX: two zero bytes, the element type (0x08 = unsigned byte), the number of dimensions, each size big-endian.
    WriteIdx(Path.Combine(folder, prefix + "-images-idx3-ubyte.gz"), [subset.Count, 28, 28], images);
    WriteIdx(Path.Combine(folder, prefix + "-labels-idx1-ubyte.gz"), [subset.Count], labels);
    Console.WriteLine($"{prefix}: {subset}");
}

static void WriteIdx(string path, int[] shape, byte[] data)
{
    using var file = File.Create(path);
    using var gzip = new GZipStream(file, CompressionLevel.SmallestSize);
    gzip.Write([0, 0, 0x08, (byte)shape.Length]);
    foreach (int size in shape) gzip.Write([(byte)(size >> 24), (byte)(size >> 16), (byte)(size >> 8), (byte)size]);
    gzip.Write(data);
}

static string FindRepository()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "Backbones.sln"))) return dir.FullName;
    throw new DirectoryNotFoundException("run from inside the repository, or name the output folder");
}

sealed class Printer : IFineTuneObserver
{
    public void OnStep(StepProgress p)
    {
        if (p.Step % 50 == 0 || p.Step == p.Steps)
            Console.WriteLine(FormattableString.Invariant($"epoch {p.Epoch}/{p.Epochs} step {p.Step}/{p.Steps} loss {p.Loss:F4} acc {p.Accuracy * 100:F2}% {p.ImagesPerSecond:F0} images/s"));
    }

    public void OnEpoch(EpochMetrics m, bool best) =>
        Console.WriteLine(FormattableString.Invariant($"epoch {m.Epoch}: val loss {m.ValidationLoss:F4} acc {m.ValidationAccuracy * 100:F2}%"));

    public void OnMessage(string message) => Console.WriteLine(message);
}
