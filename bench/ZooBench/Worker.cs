using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

/// <summary>
/// The worker side of ZooBench (<c>ZooBench worker</c>): one process holds one engine (ours or ONNX Runtime) and
/// answers the coordinator's JSON-line requests, the same protocol as bench/peers/torch_zoo.py.
/// </summary>
static class Worker
{
    public const int Threads = 2;

    public static int Run() => WorkerLoop.Serve(Load,
        engine => new JsonObject { ["logits"] = new JsonArray(engine.Logits().Select(v => (JsonNode)v).ToArray()), ["version"] = engine.Version },
        (engine, r) =>
        {
            var (seconds, faults) = engine.Time((int)r["batch"]!, (int)r["iters"]!);
            return new JsonObject { ["seconds"] = seconds, ["faults"] = faults };
        });

    static IEngine Load(JsonObject r)
    {
        var variant = r["variant"]?.AsObject() ?? [];
        var input = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes((string)r["input"]!)).ToArray(); // little-endian float32
        long[] shape = r["shape"]!.AsArray().Select(n => (long)n!).ToArray();
        string model = (string)r["model"]!;
        return (string?)variant["engine"] switch
        {
            "ours" => new OursEngine(model, (string)r["weights"]!, input, shape, variant),
            "ort" => new OrtEngine((string)r["onnx"]!, input, shape),
            "ours-onnx" => OursOnnxEngine.Create(model, (string)r["weights"]!, input, shape),
            var other => throw new ArgumentException($"this worker runs 'ours', 'ours-onnx' or 'ort', not '{other}'"),
        };
    }

    /// <summary>The check input (a few images) repeated to <paramref name="batch"/> images.</summary>
    public static float[] Tile(float[] input, long imageSize, int batch)
    {
        var x = new float[batch * imageSize];
        for (int i = 0; i < batch; i++)
            Array.Copy(input, i * imageSize % input.Length, x, i * imageSize, imageSize);
        return x;
    }
}

/// <summary>One way of running a model in a worker: the check input's logits, then timed forwards.</summary>
interface IEngine : IDisposable
{
    string Version { get; }
    float[] Logits();
    (double Seconds, long Faults) Time(int batch, int iters);
}
