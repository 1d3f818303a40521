using System.Text.Json;
using Backbones.Tests.Support;

namespace Backbones.Tests.Onnx;

/// <summary>
/// Debian's onnx package (python3-onnx) reading our files through tests/reference/onnx_check.py: the checker with
/// full_check, and what the file declares. Without it the test is skipped, saying so, unless BACKBONES_REQUIRE_PYTORCH=1
/// (set by CI), which turns the skip into a failure.
/// </summary>
public static class OnnxChecker
{
    static readonly Lazy<(string? Python, string Why)> Interpreter = new(Find);

    /// <summary>What onnx_check.py printed for one file.</summary>
    public sealed record Result(string File, bool Ok, string? Error, long IrVersion, Dictionary<string, long> Opsets, List<string> Producer,
        Dictionary<string, string> Metadata, Dictionary<string, int> Ops, List<List<JsonElement>> Inputs, List<List<JsonElement>> Outputs);

    public static string Require()
    {
        var (python, why) = Interpreter.Value;
        if (python is not null) return python;
        string message = $"ONNX checker test skipped: {why}. Install Debian's python3-onnx.";
        if (Environment.GetEnvironmentVariable("BACKBONES_REQUIRE_PYTORCH") == "1")
            Assert.Fail(message + " (BACKBONES_REQUIRE_PYTORCH=1 makes this a failure)");
        Assert.Skip(message);
        return null!;
    }

    /// <summary>Checks the files (one Python process); returns each file's result, in order.</summary>
    public static IReadOnlyList<Result> Check(params string[] files)
    {
        string python = Require();
        var (_, output, error) = PyTorch.Run(python, [Path.Combine(AppContext.BaseDirectory, "reference", "onnx_check.py"), .. files]);
        var options = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
        var results = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonSerializer.Deserialize<Result>(l, options)!).ToList();
        Assert.True(results.Count == files.Length, $"onnx_check.py answered for {results.Count} of {files.Length} files: {error}");
        return results;
    }

    /// <summary>Asserts the checker accepted the file and returns what it read.</summary>
    public static Result AssertValid(string file)
    {
        var result = Check(file)[0];
        Assert.True(result.Ok, $"onnx.checker rejects {file}: {result.Error}");
        return result;
    }

    static (string?, string) Find()
    {
        string candidate = Environment.GetEnvironmentVariable("BACKBONES_PYTHON") ?? "/usr/bin/python3";
        if (!File.Exists(candidate)) return (null, $"{candidate} does not exist");
        try
        {
            var (code, _, err) = PyTorch.Run(candidate, ["-c", "import onnx, onnx.checker"], 120);
            return code == 0 ? (candidate, "") : (null, $"{candidate} cannot import onnx ({err.Trim().Split('\n').LastOrDefault()})");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or TimeoutException)
        {
            return (null, e.Message);
        }
    }
}
