using Backbones.Models;
using Backbones.Transfer;
using static TorchSharp.torch;

namespace Backbones.Onnx;

/// <summary>
/// Runs a backbone's eval-mode forward on image batches, with libtorch (the model itself) or with ONNX Runtime (the
/// model exported once into a cache keyed by its weights' hash); both return the same outputs within 1e-5.
/// The engine borrows the model (and puts it in eval mode); dispose the engine before the model.
/// </summary>
public abstract class InferenceEngine : IDisposable
{
    private protected InferenceEngine(Backbone model, InferenceOptions options)
    {
        Model = model;
        Options = options;
        model.eval();
    }

    public Backbone Model { get; }

    public InferenceOptions Options { get; }

    public abstract InferenceEngineKind Kind { get; }

    /// <summary>What ran the last forward, in words (for logs): the runtime and, for ONNX, the model file.</summary>
    public abstract string Description { get; }

    public static InferenceEngine Create(Backbone model, InferenceOptions? options = null)
    {
        options ??= InferenceOptions.Default;
        if (options.Threads is < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Threads, "threads must be at least 1");
        // Both engines name a missing layer the same way, before any work.
        FeatureCapture.Attach(model, options.Layers).Dispose();
        return options.Engine switch
        {
            InferenceEngineKind.Torch => new TorchEngine(model, options),
            InferenceEngineKind.Onnx => new OnnxEngine(model, options),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Engine, "unknown engine"),
        };
    }

    /// <summary>The forward on an N×C×H×W float batch (converted to float32 on the CPU if needed).</summary>
    public abstract InferenceOutputs Run(Tensor input);

    private protected static Tensor Prepare(Tensor input)
    {
        if (input.ndim != 4) throw new ArgumentException($"expected an N×C×H×W batch, got [{string.Join(", ", input.shape)}]", nameof(input));
        return input.to_type(ScalarType.Float32).cpu().contiguous();
    }

    public virtual void Dispose() => GC.SuppressFinalize(this);
}
