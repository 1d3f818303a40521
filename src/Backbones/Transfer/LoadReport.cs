using Backbones.Inspection;

namespace Backbones.Transfer;

/// <summary>
/// What loading a state dict into a model did, key by key: loaded (with the checkpoint key each came from when the
/// names differ), skipped by a rule, missing from the file, unexpected in it, shape-mismatched, and BatchNorm
/// counters set to 0 because the checkpoint predates them. Prints as a summary line or a table.
/// </summary>
public sealed record LoadReport(
    IReadOnlyList<string> Loaded,
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> Unexpected,
    IReadOnlyList<(string Key, long[] ModelShape, long[] FileShape)> Mismatched,
    IReadOnlyList<string> Defaulted)
{
    /// <summary>Checkpoint keys a rule left out, with the rule.</summary>
    public IReadOnlyList<(string FileKey, string Reason)> Skipped { get; init; } = [];

    /// <summary>Model key → checkpoint key, for loaded keys whose names differ (renamed by a rule, or paired by position).</summary>
    public IReadOnlyDictionary<string, string> Sources { get; init; } = new Dictionary<string, string>();

    public bool IsComplete => Missing.Count == 0 && Unexpected.Count == 0 && Mismatched.Count == 0;

    public string Summary =>
        $"loaded {Loaded.Count}, skipped {Skipped.Count}, missing {Missing.Count}, unexpected {Unexpected.Count}, shape-mismatched {Mismatched.Count}"
        + (Defaulted.Count > 0 ? $", {Defaulted.Count} BatchNorm batch counters absent from an old checkpoint set to 0" : "");

    public override string ToString() =>
        Summary + List("skipped", Skipped.Select(s => $"{s.FileKey} ({s.Reason})").ToList()) + List("missing", Missing) + List("unexpected", Unexpected)
        + List("shape-mismatched", Mismatched.Select(m => $"{m.Key} (model {Shape(m.ModelShape)}, file {Shape(m.FileShape)})").ToList());

    /// <summary>
    /// One row per key: status, model key, checkpoint key (when it differs), shapes where they disagree, and the
    /// reason for a skip; loaded keys whose names match are left out unless <paramref name="all"/>.
    /// </summary>
    public void WriteTable(TextWriter output, bool all = false)
    {
        var rows = new List<IReadOnlyList<string>>();
        foreach (var key in Loaded)
        {
            bool renamed = Sources.TryGetValue(key, out var from);
            if (all || renamed) rows.Add(["loaded", key, renamed ? from! : "", "", ""]);
        }
        foreach (var (key, reason) in Skipped) rows.Add(["skipped", "", key, "", reason]);
        foreach (var key in Missing) rows.Add(["missing", key, "", "", "not in the checkpoint"]);
        foreach (var key in Unexpected) rows.Add(["unexpected", "", key, "", "not in the model"]);
        foreach (var (key, model, file) in Mismatched) rows.Add(["mismatched", key, Sources.GetValueOrDefault(key, ""), $"{Shape(model)} vs {Shape(file)}", "model vs checkpoint shape"]);
        foreach (var key in Defaulted) rows.Add(["zeroed", key, "", "", "BatchNorm counter older than the checkpoint"]);
        output.WriteLine(Summary);
        if (rows.Count > 0) TextTable.Write(output, ["status", "model key", "checkpoint key", "shapes", "why"], rows);
    }

    static string Shape(long[] shape) => $"[{string.Join(", ", shape)}]";

    static string List(string what, IReadOnlyList<string> keys) =>
        keys.Count == 0 ? "" : $"\n  {what}: {string.Join(", ", keys.Take(20))}{(keys.Count > 20 ? $", ... ({keys.Count - 20} more)" : "")}";
}
