using Backbones.Models;
using Backbones.Serialization;
using Microsoft.ML.OnnxRuntime;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;
using static TorchSharp.torch;

namespace Backbones.Onnx;

/// <summary>
/// ONNX Runtime (CPU) on the model's export: one session per input sample shape, each from the cache (exported with a
/// dynamic batch and external weights on first use); input passed without a copy, outputs copied into tensors.
/// </summary>
internal sealed class OnnxEngine(Backbone model, InferenceOptions options) : InferenceEngine(model, options)
{
    readonly Dictionary<string, InferenceSession> _sessions = new(StringComparer.Ordinal);
    readonly RunOptions _run = new();

    public override InferenceEngineKind Kind => InferenceEngineKind.Onnx;

    public override string Description => LastExport is var (path, hit)
        ? $"ONNX Runtime {OrtEnv.Instance().GetVersionString()} on {path} ({(hit ? "from the cache" : "exported now")})"
        : $"ONNX Runtime {OrtEnv.Instance().GetVersionString()} (no model run yet)";

    /// <summary>The cached model file of the last session made, and whether it was already in the cache (for tests and reports).</summary>
    internal (string Path, bool Hit)? LastExport { get; private set; }

    public override InferenceOutputs Run(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = Prepare(input);
        var session = Session(x.shape[1..]);
        using var value = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float, x.shape,
            TensorMemory.DataPointer(x), x.NumberOfElements * sizeof(float));
        using var results = session.Run(_run, session.InputNames, [value], session.OutputNames);
        var outputs = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        for (int i = 0; i < results.Count; i++) outputs[session.OutputNames[i]] = ToTensor(results[i]).MoveToOuterDisposeScope();
        var layers = Options.Layers.Distinct().ToDictionary(l => l, l => outputs[l], StringComparer.Ordinal);
        return new InferenceOutputs(outputs[session.OutputNames[0]], layers);
    }

    InferenceSession Session(long[] sample)
    {
        string key = string.Join("x", sample);
        if (_sessions.TryGetValue(key, out var session)) return session;
        var export = new OnnxExportOptions
        {
            InputShape = sample,
            DynamicBatch = true,
            Opset = Options.Opset,
            Output = Options.Output,
            Layers = Options.Layers.Distinct().ToList(),
            // ONNX Runtime opens a model with external (page-aligned) weights several times faster than an inline one.
            ExternalDataThreshold = 1024,
        };
        LastExport = OnnxModelCache.Ensure(Model, export, Options.CacheDirectory ?? OnnxModelCache.DefaultDirectory());
        using var settings = new SessionOptions
        {
            IntraOpNumThreads = Options.Threads ?? 0,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = Options.Optimization switch
            {
                OnnxOptimization.Disabled => GraphOptimizationLevel.ORT_DISABLE_ALL,
                OnnxOptimization.Basic => GraphOptimizationLevel.ORT_ENABLE_BASIC,
                OnnxOptimization.Extended => GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                _ => GraphOptimizationLevel.ORT_ENABLE_ALL,
            },
        };
        session = new InferenceSession(LastExport.Value.Path, settings);
        _sessions[key] = session;
        return session;
    }

    static Tensor ToTensor(OrtValue value)
    {
        var shape = value.GetTensorTypeAndShape().Shape;
        var data = value.GetTensorDataAsSpan<float>();
        var result = empty(shape, ScalarType.Float32);
        if (data.Length > 0) System.Runtime.InteropServices.MemoryMarshal.AsBytes(data).CopyTo(result.bytes);
        return result;
    }

    public override void Dispose()
    {
        foreach (var session in _sessions.Values) session.Dispose();
        _sessions.Clear();
        _run.Dispose();
        base.Dispose();
    }
}
