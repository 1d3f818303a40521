using Backbones.Models;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using Backbones.Transfer;
using static TorchSharp.torch;

namespace Backbones.Tests.Transfer;

/// <summary>
/// What torchvision gives on random weights (tests/reference/feature_extraction.py): create_feature_extractor's
/// outputs, the map before pooling and the pooled vector, with the weights and input PyTorch used.
/// </summary>
internal sealed class TorchvisionFeatures : IDisposable
{
    readonly Checkpoint _io;

    TorchvisionFeatures(StateDict weights, Checkpoint io)
    {
        Weights = weights;
        _io = io;
        var root = (PyDict)io.Root!;
        Input = (Tensor)root["input"]!;
        Nodes = root.TryGetValue("nodes", out var nodes) ? ((PyDict)nodes!).ToDictionary(kv => (string)kv.Key, kv => (Tensor)kv.Value!) : [];
        Spatial = root.TryGetValue("spatial", out var spatial) ? (Tensor)spatial! : null;
        Pooled = root.TryGetValue("pooled", out var pooled) ? (Tensor)pooled! : null;
    }

    public StateDict Weights { get; }
    public Tensor Input { get; }
    public IReadOnlyDictionary<string, Tensor> Nodes { get; }
    public Tensor? Spatial { get; }
    public Tensor? Pooled { get; }

    /// <param name="spatial">children (ResNet's children but the last two) or features (<c>model.features</c>).</param>
    /// <param name="pooled">children (ResNet's children but fc, flattened), gap (pooled <c>model.features</c>) or input:PATH.</param>
    public static TorchvisionFeatures Run(string model, int size, string[] nodes, string? spatial = null, string? pooled = null, int batch = 1)
    {
        PyTorch.Require();
        string folder = TempFolder.Create("features");
        var args = new List<string> { folder, model, "--size", size.ToString(), "--batch", batch.ToString(), "--name", model, "--nodes", string.Join(",", nodes) };
        if (spatial is not null) args.AddRange(["--spatial", spatial]);
        if (pooled is not null) args.AddRange(["--pooled", pooled]);
        var (code, output, error) = PyTorch.RunScript("feature_extraction.py", [.. args]);
        Assert.True(code == 0, output + error);
        return new TorchvisionFeatures(StateDict.Load(Path.Combine(folder, model + ".weights.pth")), Checkpoint.Load(Path.Combine(folder, model + ".io.pth")));
    }

    /// <summary>The zoo's <paramref name="name"/> with PyTorch's weights, in eval mode.</summary>
    public Backbone Model(string name)
    {
        var model = ModelZoo.Create(name);
        model.LoadStateDict(Weights, strict: true);
        model.eval();
        return model;
    }

    public void Dispose()
    {
        Weights.Dispose();
        _io.Dispose();
    }
}
