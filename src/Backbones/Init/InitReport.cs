namespace Backbones.Init;

/// <summary>
/// What <c>model.Initialize</c> did: each parameter it filled with the scheme it used, the selected
/// parameters the policy has no scheme for (left as they were, with why), and the ones skipped on request.
/// </summary>
public sealed record InitReport(
    string Policy,
    IReadOnlyList<(string Key, string ModuleType, string Scheme)> Initialised,
    IReadOnlyList<(string Key, string Reason)> Kept,
    IReadOnlyList<string> Skipped)
{
    public override string ToString()
    {
        var lines = new List<string> { $"{Policy}: initialised {Initialised.Count} parameters, kept {Kept.Count}, skipped {Skipped.Count}" };
        foreach (var group in Initialised.GroupBy(e => (e.ModuleType, e.Scheme)))
            lines.Add($"  {group.Key.ModuleType} {group.Key.Scheme}: {List(group.Select(e => e.Key).ToList())}");
        foreach (var group in Kept.GroupBy(e => e.Reason))
            lines.Add($"  kept ({group.Key}): {List(group.Select(e => e.Key).ToList())}");
        if (Skipped.Count > 0) lines.Add($"  skipped: {List(Skipped)}");
        return string.Join('\n', lines);
    }

    static string List(IReadOnlyList<string> keys) =>
        $"{string.Join(", ", keys.Take(8))}{(keys.Count > 8 ? $", ... ({keys.Count - 8} more)" : "")}";
}
