using Backbones.Data;
using Backbones.Demo;
using Backbones.Tests.Support;
using static TorchSharp.torch;

namespace Backbones.Tests.Training;

/// <summary>Data for the training tests: the demo's real Fashion-MNIST subset, and small synthetic image sets.</summary>
internal static class TrainingData
{
    public static string DemoFolder => Path.Combine(Repository.Root, "samples", "demo");

    /// <summary>The demo's labelled images of the classes 5–9 (relabelled 0–4), the first <paramref name="perClass"/> of each.</summary>
    public static ClassSubset Demo(string prefix, int perClass)
    {
        var idx = new IdxDataset(Path.Combine(DemoFolder, prefix + "-images-idx3-ubyte.gz"), Path.Combine(DemoFolder, prefix + "-labels-idx1-ubyte.gz"),
            IdxDataset.FashionMnistClasses);
        return new ClassSubset(idx, TransferDemo.TargetClasses, perClass);
    }

    /// <summary>A loader pair for the demo network over the demo's images.</summary>
    public static (DataLoader Train, DataLoader Validation) DemoLoaders(int trainPerClass, int validationPerClass, int batch, ulong seed) =>
        (new DataLoader(Demo(TransferDemo.TrainFilesPrefix, trainPerClass), DemoModel.TrainTransform, new DataLoaderOptions { BatchSize = batch, Seed = seed, Workers = 2 }),
         new DataLoader(Demo(TransferDemo.ValidationFilesPrefix, validationPerClass), DemoModel.EvalTransform, new DataLoaderOptions { BatchSize = 100, Shuffle = false, Workers = 2 }));

    /// <summary>Every tensor of the model's state dict, copied.</summary>
    public static Dictionary<string, Tensor> Snapshot(nn.Module model) =>
        Backbones.Transfer.ModuleState.OrderedStateDict(model).ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
}
