using System.Diagnostics;

namespace Backbones.Tests.Support;

/// <summary>
/// Debian's real PyTorch, used to write reference files and to read ours back. Without it a parity test is skipped
/// (saying so), unless BACKBONES_REQUIRE_PYTORCH=1 (set by CI), which turns the skip into a failure.
/// </summary>
public static class PyTorch
{
    static readonly Lazy<(string? Python, string Why)> Interpreter = new(Find);

    /// <summary>The interpreter with torch and torchvision, or skips/fails the calling test.</summary>
    public static string Require()
    {
        var (python, why) = Interpreter.Value;
        if (python is not null) return python;
        string message = $"PyTorch parity test skipped: {why}. Install Debian's python3-torch and python3-torchvision.";
        if (Environment.GetEnvironmentVariable("BACKBONES_REQUIRE_PYTORCH") == "1")
            Assert.Fail(message + " (BACKBONES_REQUIRE_PYTORCH=1 makes this a failure)");
        Assert.Skip(message);
        return null!;
    }

    public static bool Available => Interpreter.Value.Python is not null;

    /// <summary>Runs a script of tests/reference with Debian's Python; returns its exit code and output.</summary>
    public static (int ExitCode, string Output, string Error) RunScript(string script, params string[] args)
    {
        string python = Require();
        string path = Path.Combine(AppContext.BaseDirectory, "reference", script);
        return Run(python, [path, .. args]);
    }

    /// <summary>
    /// Runs a reference script that writes its files into the folder given as its last argument: a fresh temporary
    /// folder named <paramref name="folderName"/>, which is returned; a failing script throws with its output.
    /// </summary>
    public static string WriteReference(string script, string folderName, params string[] argsBeforeFolder)
    {
        string folder = TempFolder.Create(folderName);
        var (code, output, error) = RunScript(script, [.. argsBeforeFolder, folder]);
        if (code != 0) throw new InvalidOperationException($"{script} failed ({code}):\n{output}\n{error}");
        return folder;
    }

    /// <summary>Runs a program to completion (bounded), with extra environment variables; returns exit code and output.</summary>
    internal static (int, string, string) Run(string program, IEnumerable<string> args, int timeoutSeconds = 600, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) start.Environment[k] = v;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeoutSeconds * 1000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} ran over {timeoutSeconds} s");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    static (string?, string) Find()
    {
        string candidate = Environment.GetEnvironmentVariable("BACKBONES_PYTHON") ?? "/usr/bin/python3";
        if (!File.Exists(candidate)) return (null, $"{candidate} does not exist");
        try
        {
            var (code, _, err) = Run(candidate, ["-c", "import torch, torchvision"], 120);
            return code == 0 ? (candidate, "") : (null, $"{candidate} cannot import torch and torchvision ({err.Trim().Split('\n').LastOrDefault()})");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or TimeoutException)
        {
            return (null, e.Message);
        }
    }
}
