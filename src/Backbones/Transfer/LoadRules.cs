using System.Text.RegularExpressions;
using Backbones.Serialization;

namespace Backbones.Transfer;

/// <summary>
/// Key edits applied to a checkpoint's names before they are matched with a model's, in this order: keep only a
/// sub-dictionary (<c>backbone.</c>, without the prefix), strip prefixes (<c>module.</c>), add a prefix, rename by
/// regular expression, then skip what matches a glob or regular expression (tested on the edited name, the
/// model's side: <c>fc.*</c>). The checkpoint itself is never changed.
/// </summary>
public sealed record LoadRules
{
    /// <summary>Keep only keys under this dotted prefix, without it; others are skipped.</summary>
    public string? Select { get; init; }

    /// <summary>Prefixes removed from keys that start with them, in order (e.g. <c>module.</c>).</summary>
    public IReadOnlyList<string> StripPrefixes { get; init; } = [];

    /// <summary>A prefix put in front of every key (a backbone saved alone, loaded into <c>backbone.</c>).</summary>
    public string? AddPrefix { get; init; }

    /// <summary>Regular-expression renames applied in order (.NET replacement syntax, <c>$1</c>).</summary>
    public IReadOnlyList<(Regex Pattern, string Replacement)> Renames { get; init; } = [];

    /// <summary>Globs (<c>fc.*</c>, <c>*.num_batches_tracked</c>) whose matching keys are not loaded.</summary>
    public IReadOnlyList<string> Skip { get; init; } = [];

    /// <summary>Regular expressions whose matching keys are not loaded.</summary>
    public IReadOnlyList<Regex> SkipPatterns { get; init; } = [];

    public static LoadRules None { get; } = new();

    /// <summary>
    /// What the rules make of each key of <paramref name="keys"/>, in order: its model-side name, or why it is
    /// skipped. Two keys that would end with one name are an error naming both.
    /// </summary>
    public KeyPlan Plan(IEnumerable<string> keys)
    {
        var skipGlobs = Skip.Select(g => (Text: g, Regex: StateDict.GlobToRegex(g))).ToList();
        var mapped = new List<(string FileKey, string Name)>();
        var skipped = new List<(string FileKey, string Reason)>();
        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            string name = key;
            if (Select is { Length: > 0 })
            {
                string dotted = Select.EndsWith('.') ? Select : Select + ".";
                if (!name.StartsWith(dotted, StringComparison.Ordinal))
                {
                    skipped.Add((key, $"outside the selected '{Select}'"));
                    continue;
                }
                name = name[dotted.Length..];
            }
            foreach (var prefix in StripPrefixes)
                if (name.StartsWith(prefix, StringComparison.Ordinal)) name = name[prefix.Length..];
            if (AddPrefix is { Length: > 0 }) name = AddPrefix + name;
            foreach (var (pattern, replacement) in Renames) name = pattern.Replace(name, replacement);

            string? reason = skipGlobs.Where(g => g.Regex.IsMatch(name)).Select(g => $"matches '{g.Text}'").FirstOrDefault()
                ?? SkipPatterns.Where(p => p.IsMatch(name)).Select(p => $"matches /{p}/").FirstOrDefault();
            if (reason is not null)
            {
                skipped.Add((key, reason));
                continue;
            }
            if (owners.TryGetValue(name, out var first))
                throw new InvalidOperationException($"the load rules give two checkpoint keys the name '{name}': {first} and {key}");
            owners[name] = key;
            mapped.Add((key, name));
        }
        return new KeyPlan(mapped, skipped);
    }
}

/// <summary>The outcome of <see cref="LoadRules.Plan"/>: checkpoint keys with their model-side names, and those skipped with the reason.</summary>
public sealed record KeyPlan(IReadOnlyList<(string FileKey, string Name)> Mapped, IReadOnlyList<(string FileKey, string Reason)> Skipped);
