namespace Backbones.Serialization;

/// <summary>
/// A checkpoint file that is damaged, truncated, of an unknown format or refused as unsafe.
/// The message names the file, the entry (zip member, pickle offset or key) and what was wrong.
/// </summary>
public class CheckpointFormatException : Exception
{
    public CheckpointFormatException(string file, string? entry, string problem, Exception? inner = null)
        : base(Compose(file, entry, problem), inner)
    {
        File = file;
        Entry = entry;
        Problem = problem;
    }

    /// <summary>The file that was being read or written.</summary>
    public string File { get; }

    /// <summary>Where in the file: a zip member, "pickle offset N", or a tensor key; null for the file as a whole.</summary>
    public string? Entry { get; }

    /// <summary>What was wrong, without the file and entry.</summary>
    public string Problem { get; }

    static string Compose(string file, string? entry, string problem) =>
        entry is null ? $"{file}: {problem}" : $"{file}: {entry}: {problem}";
}

/// <summary>
/// A pickle asked for a Python global that is not on the allow-list; nothing from the file was executed.
/// </summary>
public sealed class UnsafePickleException(string file, string? entry, string module, string name)
    : CheckpointFormatException(file, entry,
        $"refused to load global '{module}.{name}': it is not a tensor, storage or plain container type, " +
        "and loading it could run code from the file")
{
    public string Module { get; } = module;
    public string Name { get; } = name;
}
