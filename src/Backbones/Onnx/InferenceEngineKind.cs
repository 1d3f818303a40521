namespace Backbones.Onnx;

/// <summary>What runs a model's forward: libtorch through TorchSharp (eager), or ONNX Runtime on the model's export.</summary>
public enum InferenceEngineKind
{
    Torch,
    Onnx,
}
