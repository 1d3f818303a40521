using static TorchSharp.torch;

namespace Backbones.Onnx;

/// <summary>One forward's results: the model's output (logits, pre-logits or features) and each requested layer's; dispose to free them.</summary>
public sealed class InferenceOutputs : IDisposable
{
    public InferenceOutputs(Tensor output, IReadOnlyDictionary<string, Tensor> layers)
    {
        Output = output;
        Layers = layers;
    }

    public Tensor Output { get; }

    /// <summary>Each requested module's output, by path, in the order asked.</summary>
    public IReadOnlyDictionary<string, Tensor> Layers { get; }

    public void Dispose()
    {
        Output.Dispose();
        foreach (var t in Layers.Values) t.Dispose();
    }
}
