using Backbones.Onnx;

namespace Backbones.Inspection;

/// <summary>How to draw a model's module graph: how deep to open containers, and the input the shapes are computed for.</summary>
public sealed record ModelGraphOptions
{
    /// <summary>Module calls at this depth are nodes (1: the top-level modules; 3: a ResNet block's layers); containers above it are clusters.</summary>
    public int Depth { get; init; } = 3;

    /// <summary>One input sample (C, H, W); null takes the first convolution's channels at the weights' crop size (224 without weights).</summary>
    public IReadOnlyList<long>? InputShape { get; init; }

    /// <summary>ONNX emitters for module types the exporter does not know (the graph follows the exporter's walk).</summary>
    public IReadOnlyDictionary<Type, OnnxModuleEmitter>? Emitters { get; init; }

    public static ModelGraphOptions Default { get; } = new();
}
