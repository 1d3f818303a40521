using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Onnx;

/// <summary>
/// Writes the ONNX nodes computing one module's eval-mode forward on <paramref name="input"/> and returns its output.
/// Emitters of composite modules call <see cref="OnnxGraphContext.EmitChild"/> for their children, so every child is
/// emitted by its own type's emitter and its output can be asked for by path.
/// </summary>
public delegate OnnxValue OnnxModuleEmitter(OnnxGraphContext context, nn.Module module, string path, OnnxValue input);
