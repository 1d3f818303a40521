using System.Diagnostics;
using Backbones.IO;

namespace Backbones.Inspection;

/// <summary>
/// Runs Graphviz's <c>dot</c> (Debian's <c>graphviz</c> package) to lay out DOT text into an SVG or another format
/// dot knows, bounded in time, and writes the result atomically; dot's own error text is what a failure reports.
/// </summary>
public static class Graphviz
{
    /// <summary>The <c>dot</c> program on <paramref name="searchPath"/> (PATH when null), or null when there is none.</summary>
    public static string? FindDot(string? searchPath = null)
    {
        foreach (var folder in (searchPath ?? Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(folder, "dot");
            if (File.Exists(candidate) && (OperatingSystem.IsWindows() || (File.GetUnixFileMode(candidate) & UnixFileMode.UserExecute) != 0))
                return candidate;
        }
        return null;
    }

    /// <summary>Lays out <paramref name="dotText"/> with <c>dot -T<paramref name="format"/></c> into <paramref name="outputPath"/>.</summary>
    public static void Render(string dotText, string outputPath, string format = "svg", TimeSpan? timeout = null, string? dot = null)
    {
        dot ??= FindDot() ?? throw new FileNotFoundException("Graphviz's dot is not on PATH (Debian: apt-get install graphviz)", "dot");
        var limit = timeout ?? TimeSpan.FromMinutes(2);
        var start = new ProcessStartInfo(dot)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardInputEncoding = new System.Text.UTF8Encoding(false),
        };
        start.ArgumentList.Add("-T" + format);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {dot}");
        var rendered = new MemoryStream();
        var stdout = process.StandardOutput.BaseStream.CopyToAsync(rendered);
        var stderr = process.StandardError.ReadToEndAsync();
        var stdin = Task.Run(() =>
        {
            // dot may exit early on a syntax error; its message says why, not the broken pipe.
            try
            {
                process.StandardInput.Write(dotText);
                process.StandardInput.Close();
            }
            catch (IOException)
            {
            }
        });
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{dot} -T{format} did not finish within {limit.TotalSeconds:0} s (a smaller --depth gives a smaller graph)");
        }
        Task.WaitAll(stdout, stderr, stdin);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{dot} -T{format} failed with exit code {process.ExitCode}: {stderr.Result.Trim()}");
        AtomicFile.Write(outputPath, stream => rendered.WriteTo(stream));
    }
}
