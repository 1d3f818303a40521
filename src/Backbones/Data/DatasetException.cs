namespace Backbones.Data;

/// <summary>A dataset that cannot be read as asked: a damaged IDX file, a bad line of a list file, a class folder with no
/// image. The message names the file or folder (and line) and what was wrong.</summary>
public sealed class DatasetException(string path, string problem, Exception? inner = null)
    : Exception($"{path}: {problem}", inner)
{
    /// <summary>The file or folder at fault.</summary>
    public string Path { get; } = path;

    /// <summary>What was wrong, without the path.</summary>
    public string Problem { get; } = problem;
}
