using Microsoft.ML.OnnxRuntime;

/// <summary>ONNX Runtime (CPU provider, all graph optimisations, 2 intra-op threads) on PyTorch's own ONNX export.</summary>
sealed class OrtEngine : IEngine
{
    readonly InferenceSession _session;
    readonly RunOptions _run = new();
    readonly float[] _input;
    readonly long[] _shape;

    public OrtEngine(string onnx, float[] input, long[] shape)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = Worker.Threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(onnx, options);
        _input = input;
        _shape = shape;
    }

    public string Version => $"ONNX Runtime {OrtEnv.Instance().GetVersionString()}";

    public float[] Logits() => Forward(_input, _shape[0]);

    public (double Seconds, long Faults) Time(int batch, int iters)
    {
        long imageSize = _shape[1] * _shape[2] * _shape[3];
        var data = Worker.Tile(_input, imageSize, batch);
        using var x = OrtValue.CreateTensorValueFromMemory(data, [batch, _shape[1], _shape[2], _shape[3]]);
        return WorkerLoop.Measure(iters, () =>
        {
            using var outputs = _session.Run(_run, _session.InputNames, [x], _session.OutputNames);
        });
    }

    float[] Forward(float[] data, long batch)
    {
        using var x = OrtValue.CreateTensorValueFromMemory(data, [batch, _shape[1], _shape[2], _shape[3]]);
        using var outputs = _session.Run(_run, _session.InputNames, [x], _session.OutputNames);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    public void Dispose()
    {
        _session.Dispose();
        _run.Dispose();
    }
}
