using System.Diagnostics;
using System.Text.Json.Nodes;

/// <summary>
/// One engine's own long-lived process (a ZooBench worker, or Debian PyTorch running bench/peers/torch_zoo.py),
/// spoken to in JSON lines. Start-up and imports happen before anything is timed; timing happens inside the
/// worker, so the pipe is never timed either. A process of its own per engine keeps each one's heap and
/// allocator settings apart, and a crash (the channels-last SIGFPE seen once) takes down only that engine.
/// </summary>
sealed class WorkerProcess : IDisposable
{
    readonly Process _process;

    public string Name { get; }

    public WorkerProcess(string name, string file, IEnumerable<string> args, IReadOnlyDictionary<string, string?> environment)
    {
        Name = name;
        var info = new ProcessStartInfo(file) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var (key, value) in environment)
            if (value is null) info.Environment.Remove(key);
            else info.Environment[key] = value;
        _process = Process.Start(info) ?? throw new WorkerException($"{name}: could not start {file}", died: true);
        Receive(); // {"ready": true}
    }

    /// <summary>Sends one request and returns the answer; a failure the worker reports, or its death, is a <see cref="WorkerException"/>.</summary>
    public JsonObject Request(JsonObject request)
    {
        if (_process.HasExited) throw Died();
        _process.StandardInput.WriteLine(request.ToJsonString());
        _process.StandardInput.Flush();
        var answer = Receive();
        if (answer["error"] is JsonNode error) throw new WorkerException($"{Name}: {error}", died: false);
        return answer;
    }

    JsonObject Receive() => JsonNode.Parse(_process.StandardOutput.ReadLine() ?? throw Died())!.AsObject();

    WorkerException Died()
    {
        _process.WaitForExit();
        int code = _process.ExitCode; // 128 + n when signal n killed it (136: SIGFPE, 137: SIGKILL, 139: SIGSEGV)
        return new WorkerException($"{Name}: the worker process died (exit code {code}{(code > 128 ? $", signal {code - 128}" : "")}; its messages are above)", died: true);
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.Close(); // end of input: the worker's loop ends
        }
        catch (IOException) { } // it died already
        if (!_process.WaitForExit(10_000)) _process.Kill();
        _process.Dispose();
    }
}

sealed class WorkerException(string message, bool died) : Exception(message)
{
    public bool Died { get; } = died;
}
