using System.Collections;
using System.Text.RegularExpressions;
using Backbones.Serialization.Pickle;
using static TorchSharp.torch;

namespace Backbones.Serialization;

/// <summary>
/// An ordered key → tensor map, as <c>model.state_dict()</c> returns it, with the edits transfer recipes make
/// before loading: keep a prefix's sub-dictionary, strip or add a prefix (<c>module.</c>), drop keys by pattern,
/// rename by regular expression. Each edit changes the dictionary in place and returns what it did.
/// Owns its tensors: disposing it disposes them.
/// </summary>
public sealed class StateDict : IEnumerable<KeyValuePair<string, Tensor>>, IDisposable
{
    readonly OrderedDictionary<string, Tensor> _tensors = new(StringComparer.Ordinal);

    /// <summary>The <c>_metadata</c> PyTorch attaches to a state dict (per module prefix, its version), if any.</summary>
    public PyDict? Metadata { get; set; }

    public int Count => _tensors.Count;
    public IEnumerable<string> Keys => _tensors.Keys;
    public IEnumerable<Tensor> Values => _tensors.Values;
    public Tensor this[string key] => _tensors[key];
    public bool ContainsKey(string key) => _tensors.ContainsKey(key);
    public bool TryGetValue(string key, out Tensor tensor) => _tensors.TryGetValue(key, out tensor!);

    public void Add(string key, Tensor tensor)
    {
        if (!_tensors.TryAdd(key, tensor)) throw new ArgumentException($"key '{key}' is already in the state dict", nameof(key));
    }

    /// <summary>Puts <paramref name="tensor"/> under an existing <paramref name="key"/>, keeping its position; disposes the old tensor.</summary>
    public void Replace(string key, Tensor tensor)
    {
        if (!_tensors.TryGetValue(key, out var old)) throw new KeyNotFoundException($"no key '{key}' in the state dict to replace");
        _tensors[key] = tensor;
        if (!ReferenceEquals(old, tensor)) old.Dispose();
    }

    /// <summary>Reads the state dict of a checkpoint file (see <see cref="Checkpoint.TakeStateDict"/>).</summary>
    public static StateDict Load(string path, string? select = null)
    {
        using var checkpoint = Checkpoint.Load(path);
        return checkpoint.TakeStateDict(select);
    }

    /// <summary>Writes the dictionary (and its <c>_metadata</c>) as .pth or .safetensors, by extension, atomically.</summary>
    public void Save(string path, IReadOnlyDictionary<string, string>? safetensorsMetadata = null) =>
        Checkpoint.Save(path, this, metadata: safetensorsMetadata);

    /// <summary>Keeps only keys under <paramref name="prefix"/> (a dotted path such as <c>backbone</c>), without the prefix.</summary>
    public IReadOnlyList<string> KeepPrefix(string prefix)
    {
        string dotted = prefix.EndsWith('.') ? prefix : prefix + ".";
        var dropped = Drop(k => !k.StartsWith(dotted, StringComparison.Ordinal));
        StripPrefix(dotted);
        return dropped;
    }

    /// <summary>Removes <paramref name="prefix"/> from every key that starts with it (e.g. <c>module.</c> from DataParallel).</summary>
    public IReadOnlyList<(string From, string To)> StripPrefix(string prefix) =>
        RenameWhere(k => k.StartsWith(prefix, StringComparison.Ordinal) ? k[prefix.Length..] : null);

    /// <summary>Puts <paramref name="prefix"/> in front of every key.</summary>
    public IReadOnlyList<(string From, string To)> AddPrefix(string prefix) => RenameWhere(k => prefix + k);

    /// <summary>Removes keys matching the regular expression; returns them.</summary>
    public IReadOnlyList<string> Drop(Regex pattern) => Drop(pattern.IsMatch);

    /// <summary>Removes keys matching a glob (<c>fc.*</c>, <c>classifier.*</c>, <c>*.num_batches_tracked</c>); returns them.</summary>
    public IReadOnlyList<string> DropGlob(string glob) => Drop(GlobToRegex(glob));

    public IReadOnlyList<string> Drop(Func<string, bool> predicate)
    {
        var dropped = _tensors.Keys.Where(predicate).ToList();
        foreach (var key in dropped)
        {
            _tensors[key].Dispose();
            _tensors.Remove(key);
        }
        return dropped;
    }

    /// <summary>Renames keys by regular expression (.NET replacement syntax, <c>$1</c>); returns the renames made.</summary>
    public IReadOnlyList<(string From, string To)> Rename(Regex pattern, string replacement) =>
        RenameWhere(k => pattern.IsMatch(k) ? pattern.Replace(k, replacement) : null);

    /// <summary>
    /// Renames every key for which <paramref name="rename"/> returns a new name, keeping order; refuses, changing
    /// nothing, when two keys would end up with one name.
    /// </summary>
    public IReadOnlyList<(string From, string To)> RenameWhere(Func<string, string?> rename)
    {
        var plan = _tensors.Select(kv => (From: kv.Key, To: rename(kv.Key) ?? kv.Key, kv.Value)).ToList();
        var clash = plan.GroupBy(p => p.To).FirstOrDefault(g => g.Count() > 1);
        if (clash is not null)
            throw new InvalidOperationException($"renaming would give {clash.Count()} keys the name '{clash.Key}': {string.Join(", ", clash.Select(c => c.From))}");
        _tensors.Clear();
        foreach (var (_, to, value) in plan) _tensors.Add(to, value);
        return plan.Where(p => p.From != p.To).Select(p => (p.From, p.To)).ToList();
    }

    /// <summary>Elements in all tensors, buffers included.</summary>
    public long CountElements() => _tensors.Values.Sum(t => t.NumberOfElements);

    /// <summary>
    /// Elements in learnable parameters: everything but BatchNorm's running statistics and batch counter,
    /// which is the figure torchvision quotes as a model's parameter count.
    /// </summary>
    public long CountParameters() => _tensors.Where(kv => !IsBuffer(kv.Key)).Sum(kv => kv.Value.NumberOfElements);

    static bool IsBuffer(string key) =>
        key.EndsWith(".running_mean", StringComparison.Ordinal) || key.EndsWith(".running_var", StringComparison.Ordinal)
        || key.EndsWith(".num_batches_tracked", StringComparison.Ordinal);

    internal static Regex GlobToRegex(string glob) =>
        new("^" + Regex.Escape(glob).Replace(@"\*", ".*").Replace(@"\?", ".") + "$", RegexOptions.CultureInvariant);

    /// <summary>The pickled form: an OrderedDict with <c>_metadata</c>, as torch.save writes a state dict.</summary>
    internal PyDict ToPyDict()
    {
        var dict = new PyDict { Ordered = true };
        foreach (var (k, v) in _tensors) dict[k] = v;
        if (Metadata is not null) dict.Attributes["_metadata"] = Metadata;
        return dict;
    }

    public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator() => _tensors.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public void Dispose()
    {
        foreach (var t in _tensors.Values) t.Dispose();
        _tensors.Clear();
    }
}
