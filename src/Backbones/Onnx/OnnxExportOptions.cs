using Backbones.Weights;

namespace Backbones.Onnx;

/// <summary>How to export a model to ONNX; every option has the default a user of torchvision would expect.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>Shape of one input sample (C, H, W); null takes the first convolution's channels at the weights' crop size (224 without weights).</summary>
    public IReadOnlyList<long>? InputShape { get; init; }

    /// <summary>The batch size written into the graph when <see cref="DynamicBatch"/> is off.</summary>
    public long BatchSize { get; init; } = 1;

    /// <summary>Makes the first dimension of the input and outputs symbolic (<c>batch</c>).</summary>
    public bool DynamicBatch { get; init; }

    /// <summary>The ONNX operator set, 14 to 21; 17 is the newest Debian's onnx 1.12 checks and the first with LayerNormalization.</summary>
    public int Opset { get; init; } = 17;

    /// <summary>Where a backbone's forward stops (logits, pre-logits, feature map); other modules always export their forward.</summary>
    public ModelOutput Output { get; init; } = ModelOutput.Logits;

    /// <summary>Module paths whose outputs become extra graph outputs named by the path (<c>layer3</c>, <c>features.denseblock2</c>).</summary>
    public IReadOnlyList<string> Layers { get; init; } = [];

    /// <summary>Folds each eval-mode BatchNorm into the convolution before it (in float64), as inference runtimes expect.</summary>
    public bool FoldBatchNorm { get; init; } = true;

    /// <summary>
    /// Initializers of at least this many bytes go to an external data file beside the model (<c>FILE.onnx.data</c>).
    /// Null: only when the model would pass protobuf's 2 GB limit, then every initializer of 1 KiB or more.
    /// </summary>
    public long? ExternalDataThreshold { get; init; }

    /// <summary>Emitters for module types the exporter does not know (a custom block), by exact type.</summary>
    public IReadOnlyDictionary<Type, OnnxModuleEmitter>? Emitters { get; init; }

    /// <summary>The weights set whose preprocessing and categories go into metadata_props; null takes the model's loaded catalogue weights.</summary>
    public WeightsInfo? Weights { get; init; }

    /// <summary>Extra metadata_props entries (they override the exporter's own of the same key).</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    public static OnnxExportOptions Default { get; } = new();
}
