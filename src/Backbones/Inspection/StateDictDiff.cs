using System.Globalization;
using Backbones.Serialization;
using static TorchSharp.torch;

namespace Backbones.Inspection;

/// <summary>
/// How two state dicts differ: keys only in one of them, keys whose shape or dtype disagree, and for every common key
/// of equal shape the largest absolute difference (computed in float64, so integer counters compare exactly).
/// </summary>
public sealed record StateDictDiff(
    string NameA, string NameB,
    IReadOnlyList<string> OnlyInA, IReadOnlyList<string> OnlyInB,
    IReadOnlyList<DiffMismatch> Mismatched, IReadOnlyList<DiffEntry> Common)
{
    /// <summary>Whether both hold the same keys with equal shapes, dtypes and values.</summary>
    public bool Identical => OnlyInA.Count == 0 && OnlyInB.Count == 0 && Mismatched.Count == 0 && Common.All(c => c.MaxAbsDiff == 0);

    public static StateDictDiff Compare(string nameA, IEnumerable<KeyValuePair<string, Tensor>> a, string nameB, IEnumerable<KeyValuePair<string, Tensor>> b)
    {
        var left = a.ToList();
        var right = b.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var leftKeys = left.Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
        var mismatched = new List<DiffMismatch>();
        var common = new List<DiffEntry>();
        foreach (var (key, x) in left)
        {
            if (!right.TryGetValue(key, out var y)) continue;
            if (!x.shape.SequenceEqual(y.shape) || x.dtype != y.dtype)
                mismatched.Add(new DiffMismatch(key, x.shape, y.shape, TorchDType.Of(x.dtype).Name, TorchDType.Of(y.dtype).Name));
            if (x.shape.SequenceEqual(y.shape)) common.Add(new DiffEntry(key, x.shape, MaxAbsDiff(x, y)));
        }
        return new StateDictDiff(nameA, nameB,
            left.Where(kv => !right.ContainsKey(kv.Key)).Select(kv => kv.Key).ToList(),
            right.Keys.Where(k => !leftKeys.Contains(k)).ToList(),
            mismatched, common);
    }

    static double MaxAbsDiff(Tensor x, Tensor y)
    {
        if (x.numel() == 0) return 0;
        using var scope = NewDisposeScope();
        var a = x.detach().cpu().to_type(ScalarType.Float64);
        var b = y.detach().cpu().to_type(ScalarType.Float64);
        return (a - b).abs().max().item<double>();
    }

    public void WriteText(TextWriter output)
    {
        output.WriteLine($"A: {NameA}");
        output.WriteLine($"B: {NameB}");
        Section(output, "only in A", OnlyInA);
        Section(output, "only in B", OnlyInB);
        if (Mismatched.Count > 0)
        {
            output.WriteLine($"shape or dtype mismatches ({Mismatched.Count}):");
            TextTable.Write(output, ["key", "A", "B"], Mismatched.Select(m => (IReadOnlyList<string>)
                [m.Key, $"{m.DTypeA} [{string.Join(", ", m.ShapeA)}]", $"{m.DTypeB} [{string.Join(", ", m.ShapeB)}]"]).ToList());
        }
        var differing = Common.Where(c => c.MaxAbsDiff != 0).ToList();
        output.WriteLine($"common keys: {Common.Count}, equal: {Common.Count - differing.Count}, different: {differing.Count}");
        if (differing.Count > 0)
            TextTable.Write(output, ["key", "shape", "max |A-B|"], differing.Select(c => (IReadOnlyList<string>)
                [c.Key, $"[{string.Join(", ", c.Shape)}]", c.MaxAbsDiff.ToString("G6", CultureInfo.InvariantCulture)]).ToList());
        output.WriteLine(Identical ? "identical" : "different");
    }

    static void Section(TextWriter output, string title, IReadOnlyList<string> keys)
    {
        if (keys.Count == 0) return;
        output.WriteLine($"{title} ({keys.Count}):");
        foreach (var k in keys) output.WriteLine($"  {k}");
    }

    /// <summary>The <c>--json</c> document.</summary>
    public object ToJson() => new Dictionary<string, object>
    {
        ["a"] = NameA,
        ["b"] = NameB,
        ["identical"] = Identical,
        ["only_in_a"] = OnlyInA,
        ["only_in_b"] = OnlyInB,
        ["mismatched"] = Mismatched.Select(m => new Dictionary<string, object>
        {
            ["key"] = m.Key, ["shape_a"] = m.ShapeA, ["shape_b"] = m.ShapeB, ["dtype_a"] = m.DTypeA, ["dtype_b"] = m.DTypeB,
        }).ToList(),
        ["common"] = Common.Select(c => new Dictionary<string, object> { ["key"] = c.Key, ["shape"] = c.Shape, ["max_abs_diff"] = c.MaxAbsDiff }).ToList(),
    };
}

/// <summary>A key both state dicts hold whose shape or dtype disagrees.</summary>
public sealed record DiffMismatch(string Key, IReadOnlyList<long> ShapeA, IReadOnlyList<long> ShapeB, string DTypeA, string DTypeB);

/// <summary>A key both hold with the same shape, and the largest absolute difference of their values.</summary>
public sealed record DiffEntry(string Key, IReadOnlyList<long> Shape, double MaxAbsDiff);
