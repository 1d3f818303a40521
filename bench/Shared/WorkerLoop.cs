using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

/// <summary>
/// The worker side of the benchmarks' JSON-line protocol (the one <see cref="WorkerProcess"/> speaks to): "load" replaces
/// the session, "time" measures with it, "drop" frees it; a failure answers {"error": ...} and the worker keeps serving.
/// </summary>
static class WorkerLoop
{
    /// <param name="load">Builds a session from a "load" request.</param>
    /// <param name="loaded">The answer to "load": what the coordinator checks before timing.</param>
    /// <param name="time">The answer to "time", with earlier garbage already collected.</param>
    public static int Serve<TSession>(Func<JsonObject, TSession> load, Func<TSession, JsonObject> loaded, Func<TSession, JsonObject, JsonObject> time)
        where TSession : class, IDisposable
    {
        Console.WriteLine(JsonSerializer.Serialize(new { ready = true }));
        TSession? session = null;
        while (Console.ReadLine() is { } line)
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonObject answer;
            try
            {
                var r = JsonNode.Parse(line)!.AsObject();
                switch ((string?)r["op"])
                {
                    case "load":
                        session?.Dispose();
                        session = null; // freed before the next one is built
                        session = load(r);
                        answer = loaded(session);
                        break;
                    case "time":
                        if (session is null) throw new InvalidOperationException("nothing loaded");
                        GC.Collect(); // earlier garbage is not this sample's cost
                        GC.WaitForPendingFinalizers();
                        answer = time(session, r);
                        break;
                    case "drop":
                        session?.Dispose();
                        session = null;
                        answer = [];
                        break;
                    default:
                        throw new InvalidOperationException($"unknown op '{r["op"]}'");
                }
            }
            catch (Exception e)
            {
                answer = new JsonObject { ["error"] = $"{e.GetType().Name}: {e.Message}" };
            }
            Console.WriteLine(answer.ToJsonString());
        }
        session?.Dispose();
        return 0;
    }

    /// <summary>Runs <paramref name="run"/> <paramref name="iters"/> times; wall seconds and the page faults taken meanwhile.</summary>
    public static (double Seconds, long Faults) Measure(int iters, Action run)
    {
        long faults = BenchProcess.MinorPageFaults();
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < iters; i++) run();
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return (seconds, BenchProcess.MinorPageFaults() - faults);
    }
}
