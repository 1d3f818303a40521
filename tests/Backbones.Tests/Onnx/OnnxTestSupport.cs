using System.Runtime.InteropServices;
using Backbones.Models;
using Backbones.Onnx;
using Backbones.Tests.Support;
using Backbones.Transfer;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Tests.Onnx;

/// <summary>
/// What the export tests share: random BatchNorm statistics (so folding changes numbers), eager outputs with feature
/// capture, ONNX Runtime run straight on a file (not through our engine), and the relative-L2 comparison.
/// </summary>
public static class OnnxTestSupport
{
    public const double Tolerance = 1e-5;

    /// <summary>BatchNorm affine parameters and running statistics drawn as model_parity.py draws them, from a fixed seed.</summary>
    public static void RandomiseBatchNorm(nn.Module model, long seed = 0)
    {
        using var _ = no_grad();
        using var generator = new Generator((ulong)seed);
        foreach (var (_, module) in model.named_modules())
        {
            if (module is not TorchSharp.Modules.BatchNorm bn) continue;
            bn.weight?.uniform_(0.5, 1.5, generator);
            bn.bias?.normal_(0, 0.1, generator);
            bn.running_mean?.normal_(0, 0.1, generator);
            bn.running_var?.uniform_(0.5, 1.5, generator);
        }
    }

    /// <summary>The model's eval output and each named module's output, without autograd.</summary>
    public static Dictionary<string, Tensor> Eager(nn.Module<Tensor, Tensor> model, Tensor input, IEnumerable<string> layers, Func<Tensor, Tensor>? forward = null)
    {
        model.eval();
        using var capture = FeatureCapture.Attach(model, layers);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using (inference_mode()) result[""] = (forward ?? model.call)(input).detach().clone().DetachFromDisposeScope();
        foreach (var (path, value) in capture.Outputs) result[path] = value.clone().DetachFromDisposeScope();
        return result;
    }

    /// <summary>Runs the ONNX file with ONNX Runtime (all optimisations) on <paramref name="input"/>; returns every output by name.</summary>
    public static Dictionary<string, Tensor> Run(string onnxPath, Tensor input, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = level, IntraOpNumThreads = 2 };
        using var session = new InferenceSession(onnxPath, options);
        return Run(session, input);
    }

    public static Dictionary<string, Tensor> Run(InferenceSession session, Tensor input)
    {
        var data = input.contiguous().to_type(ScalarType.Float32).data<float>().ToArray();
        using var x = OrtValue.CreateTensorValueFromMemory(data, input.shape);
        using var outputs = session.Run(new RunOptions(), session.InputNames, [x], session.OutputNames);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        for (int i = 0; i < outputs.Count; i++)
        {
            var shape = outputs[i].GetTensorTypeAndShape().Shape;
            result[session.OutputNames[i]] = tensor(outputs[i].GetTensorDataAsSpan<float>().ToArray(), shape).DetachFromDisposeScope();
        }
        return result;
    }

    /// <summary>The file parsed with the ONNX schema (our generated reader, for structural assertions).</summary>
    internal static Backbones.Onnx.Proto.ModelProto ReadModel(string path)
    {
        using var stream = File.OpenRead(path);
        return Backbones.Onnx.Proto.ModelProto.Parser.ParseFrom(stream);
    }

    /// <summary>Relative L2 of <paramref name="actual"/> against <paramref name="expected"/>, asserted within the tolerance; returns it.</summary>
    public static double AssertClose(string what, Tensor expected, Tensor actual, double tolerance = Tolerance)
    {
        Assert.Equal(expected.shape, actual.shape);
        using var scope = NewDisposeScope();
        var e = expected.to_type(ScalarType.Float64);
        var a = actual.to_type(ScalarType.Float64);
        double norm = e.norm().item<double>(), diff = (a - e).norm().item<double>();
        double relative = norm == 0 ? diff : diff / norm;
        TestContext.Current.TestOutputHelper?.WriteLine($"{what}: relative L2 {relative:E2}");
        Assert.True(relative <= tolerance, $"{what}: relative L2 error {relative:E3} > {tolerance:E0}");
        return relative;
    }

    /// <summary>Above this many weight bytes a test export keeps its weights externally, which ONNX Runtime opens several times faster.</summary>
    const long ExternalAbove = 200_000_000;

    /// <summary>
    /// Exports, runs eager and ONNX Runtime on the same input, compares the main output and every layer; returns the
    /// largest error and the report. The file is deleted unless written to the caller's <paramref name="folder"/>.
    /// </summary>
    public static (double Worst, OnnxExportReport Report) ExportAndCompare(string what, nn.Module<Tensor, Tensor> model, Tensor input,
        OnnxExportOptions options, Func<Tensor, Tensor>? forward = null, string? folder = null)
    {
        string path = Path.Combine(folder ?? TempFolder.Create("onnx"), "model.onnx");
        long weightBytes = model.parameters().Sum(p => p.NumberOfElements) * sizeof(float);
        options = options with
        {
            InputShape = options.InputShape ?? input.shape[1..],
            ExternalDataThreshold = options.ExternalDataThreshold ?? (weightBytes > ExternalAbove ? 1 << 20 : null),
        };
        var report = OnnxExporter.Export(model, path, options);
        var eager = Eager(model, input, options.Layers, forward);
        var ort = Run(path, input);
        try
        {
            Assert.Equal(1 + options.Layers.Count, ort.Count);
            double worst = AssertClose($"{what} {report.Outputs[0].Name}", eager[""], ort[report.Outputs[0].Name]);
            foreach (var layer in options.Layers) worst = Math.Max(worst, AssertClose($"{what} {layer}", eager[layer], ort[layer]));
            return (worst, report);
        }
        finally
        {
            foreach (var t in eager.Values.Concat(ort.Values)) t.Dispose();
            if (folder is null)
            {
                File.Delete(path);
                File.Delete(path + ".data");
            }
        }
    }
}
