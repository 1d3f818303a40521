namespace Backbones.Vision;

/// <summary>An image file that cannot be decoded: damaged, truncated, or of a kind not supported; the message names the file.</summary>
public sealed class ImageDecodeException(string file, string problem, Exception? inner = null)
    : Exception($"{file}: {problem}", inner)
{
    /// <summary>The file that failed.</summary>
    public string File { get; } = file;

    /// <summary>What was wrong, without the file name.</summary>
    public string Problem { get; } = problem;
}
