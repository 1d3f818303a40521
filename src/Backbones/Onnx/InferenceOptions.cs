namespace Backbones.Onnx;

/// <summary>How an <see cref="InferenceEngine"/> runs a model: which engine, what it returns, and ONNX Runtime's settings.</summary>
public sealed record InferenceOptions
{
    public InferenceEngineKind Engine { get; init; } = InferenceEngineKind.Torch;

    /// <summary>Where the forward stops: logits, the pooled pre-logits vector (an embedding), or the feature map.</summary>
    public ModelOutput Output { get; init; } = ModelOutput.Logits;

    /// <summary>Module paths whose outputs are returned too (<c>layer3</c>, <c>features.denseblock2</c>).</summary>
    public IReadOnlyList<string> Layers { get; init; } = [];

    /// <summary>ONNX Runtime's intra-op threads; null lets it take one per core. (The torch engine uses libtorch's setting.)</summary>
    public int? Threads { get; init; }

    /// <summary>ONNX Runtime's graph optimisation level.</summary>
    public OnnxOptimization Optimization { get; init; } = OnnxOptimization.All;

    /// <summary>The operator set of the exported model.</summary>
    public int Opset { get; init; } = 17;

    /// <summary>Where exported models are kept, by a hash of the weights and graph; null: <c>$XDG_CACHE_HOME/backbones/onnx</c> or <c>~/.cache/backbones/onnx</c>.</summary>
    public string? CacheDirectory { get; init; }

    public static InferenceOptions Default { get; } = new();
}
