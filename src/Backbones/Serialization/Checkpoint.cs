using System.Collections;
using System.Globalization;
using Backbones.IO;
using Backbones.Runtime;
using Backbones.Serialization.Archives;
using Backbones.Serialization.Pickle;
using Microsoft.Win32.SafeHandles;
using static TorchSharp.torch;

namespace Backbones.Serialization;

/// <summary>The on-disk formats Backbones reads and writes.</summary>
public enum CheckpointFormat
{
    /// <summary>torch.save since PyTorch 1.6: a zip of data.pkl and one member per storage.</summary>
    PthZip,
    /// <summary>torch.save before 1.6 (or with _use_new_zipfile_serialization=False): pickles then raw storages.</summary>
    PthLegacy,
    /// <summary>The oldest torch.save format (2017 and before): a tar of sys_info, pickle, tensors and storages.</summary>
    PthLegacyTar,
    /// <summary>Hugging Face safetensors: a JSON header and raw little-endian tensors.</summary>
    SafeTensors,
}

/// <summary>
/// What <c>torch.load(path, weights_only=True)</c> returns, read without Python and without executing anything:
/// tensors as TorchSharp CPU tensors, dicts as <see cref="PyDict"/>, other values as plain .NET values.
/// Owns its tensors: dispose it, or take a <see cref="StateDict"/> out of it, which then owns those tensors.
/// </summary>
public sealed class Checkpoint : IDisposable
{
    Checkpoint(string path, CheckpointFormat format, object? root, IReadOnlyDictionary<string, string> metadata)
    {
        Path = path;
        Format = format;
        Root = root;
        Metadata = metadata;
    }

    public string Path { get; }
    public CheckpointFormat Format { get; }

    /// <summary>The unpickled object: usually a <see cref="PyDict"/> of tensors, or of a state dict plus training values.</summary>
    public object? Root { get; }

    /// <summary>The safetensors <c>__metadata__</c>; empty for .pth files.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Reads a .pth (zip, legacy or tar) or .safetensors file, recognised by its content, not its name.</summary>
    public static Checkpoint Load(string path, CheckpointLoadOptions? options = null)
    {
        Libtorch.EnsureLoaded();
        options ??= CheckpointLoadOptions.Default;
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointFormatException(path, null, e switch
            {
                FileNotFoundException or DirectoryNotFoundException => "no such file",
                UnauthorizedAccessException => "permission denied",
                _ => e.Message,
            }, e);
        }
        // Tensors made while reading belong to the checkpoint, not to any dispose scope the caller has open;
        // storages and views that end up unused die with this scope.
        using var scope = NewDisposeScope();
        using (handle)
        {
            long length = RandomAccess.GetLength(handle);
            var head = new byte[Math.Min(length, 512)];
            RandomAccess.Read(handle, head, 0);
            try
            {
                var (format, root, metadata) = Dispatch(handle, path, head, length, options);
                foreach (var t in TensorsIn(root)) scope.Detach(t);
                return new Checkpoint(path, format, root, metadata);
            }
            catch (Exception e) when (e is not CheckpointFormatException && e is not LibtorchUnavailableException)
            {
                // Anything a damaged file provokes below us still names the file.
                throw new CheckpointFormatException(path, null, "unreadable: " + e.Message, e);
            }
        }
    }

    static (CheckpointFormat, object?, IReadOnlyDictionary<string, string>) Dispatch(SafeFileHandle handle, string path, byte[] head, long length, CheckpointLoadOptions options)
    {
        var limits = options.Limits;
        var none = new Dictionary<string, string>();
        if (ZipFileReader.LooksLikeZip(head))
            return (CheckpointFormat.PthZip, PthZipReader.Read(handle, path, limits, options.VerifyChecksums), none);
        if (TarIndex.LooksLikeTar(head))
        {
            using var tar = new FileStream(handle, FileAccess.Read, 1 << 16);
            return (CheckpointFormat.PthLegacyTar, PthTarReader.Read(tar, path, limits), none);
        }
        // Before the legacy check: a safetensors header length whose low byte is 0x80 starts the file like a pickle.
        if (SafeTensorsReader.LooksLikeSafeTensors(head, length))
        {
            var (tensors, metadata) = SafeTensorsReader.Read(handle, path);
            return (CheckpointFormat.SafeTensors, tensors, metadata);
        }
        if (head.Length >= 2 && head[0] == 0x80)
        {
            using var legacy = new FileStream(handle, FileAccess.Read, 1 << 16);
            return (CheckpointFormat.PthLegacy, PthLegacyReader.Read(legacy, path, limits), none);
        }
        throw new CheckpointFormatException(path, null, length == 0
            ? "the file is empty"
            : "not a PyTorch checkpoint (zip, legacy or tar) nor a safetensors file");
    }

    /// <summary>Writes <paramref name="root"/> (a <see cref="StateDict"/>, <see cref="PyDict"/>, dictionary, list, tensor...) atomically.</summary>
    /// <param name="format">PthZip or SafeTensors; by default chosen from the extension (.safetensors, else .pth zip).</param>
    public static void Save(string path, object? root, CheckpointFormat? format = null, IReadOnlyDictionary<string, string>? metadata = null)
    {
        Libtorch.EnsureLoaded();
        format ??= FormatForExtension(path);
        var value = root is StateDict sd ? sd.ToPyDict() : root;
        switch (format)
        {
            case CheckpointFormat.PthZip:
                AtomicFile.Write(path, stream => PthZipWriter.Write(stream, value));
                break;
            case CheckpointFormat.SafeTensors:
                var tensors = value is PyDict dict ? FlattenTensors(dict, path) : throw new CheckpointFormatException(path, null, "safetensors holds a flat dict of tensors only");
                AtomicFile.Write(path, stream => SafeTensorsWriter.Write(stream, tensors, metadata));
                break;
            default:
                throw new NotSupportedException($"writing {format} is not supported; write {CheckpointFormat.PthZip} or {CheckpointFormat.SafeTensors}");
        }
    }

    public static CheckpointFormat FormatForExtension(string path) =>
        path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) ? CheckpointFormat.SafeTensors : CheckpointFormat.PthZip;

    /// <summary>Every leaf under <see cref="Root"/> with its dotted path (<c>state_dict.conv1.weight</c>, <c>optimizer.param_groups.0.lr</c>).</summary>
    public IEnumerable<KeyValuePair<string, object?>> Leaves() => LeavesOf(Root, "", 0);

    /// <summary>
    /// The state dict inside: the sub-dictionary at <paramref name="select"/> (a dotted path) if given, else the root
    /// when it holds tensors, else the first of <c>state_dict</c>, <c>model</c>, <c>model_state_dict</c>, <c>module</c>, <c>net</c>
    /// that does. Nested dicts flatten to dotted keys. The tensors move to the returned dictionary.
    /// </summary>
    public StateDict TakeStateDict(string? select = null)
    {
        object? node = select is null ? FindStateDict() : Navigate(select);
        if (node is not PyDict dict) throw new CheckpointFormatException(Path, select, "is not a dictionary of tensors");
        var result = new StateDict();
        foreach (var (key, value) in LeavesOf(dict, "", 0))
            if (value is Tensor t) result.Add(key, t);
        if (dict.Attributes.TryGetValue("_metadata", out var meta) && meta is PyDict metadata) result.Metadata = metadata;
        _taken.UnionWith(result.Values);
        return result;
    }

    static readonly string[] StateDictNames = ["state_dict", "model", "model_state_dict", "module", "net"];

    object? FindStateDict()
    {
        if (Root is PyDict root)
        {
            if (root.Values.Any(v => v is Tensor)) return root;
            foreach (var name in StateDictNames)
                if (root.TryGetValue(name, out var inner) && inner is PyDict d && LeavesOf(d, "", 0).Any(l => l.Value is Tensor)) return d;
        }
        throw new CheckpointFormatException(Path, null, "no state dict found (looked at the top level and at "
            + string.Join(", ", StateDictNames) + "); name one with select");
    }

    object? Navigate(string dotted)
    {
        object? node = Root;
        foreach (var part in dotted.Split('.'))
        {
            node = node switch
            {
                PyDict d when d.TryGetValue(part, out var v) => v,
                PyDict d when long.TryParse(part, CultureInfo.InvariantCulture, out var n) && d.TryGetValue(n, out var v) => v,
                IList l when int.TryParse(part, CultureInfo.InvariantCulture, out var i) && i >= 0 && i < l.Count => l[i],
                _ => throw new CheckpointFormatException(Path, dotted, $"no entry '{part}'"),
            };
        }
        return node;
    }

    /// <summary>Nesting deeper than this is refused rather than walked (a hostile pickle can nest without end).</summary>
    const int MaxDepth = 512;

    static IEnumerable<KeyValuePair<string, object?>> LeavesOf(object? node, string prefix, int depth)
    {
        if (depth > MaxDepth) throw new InvalidDataException($"nesting deeper than {MaxDepth} levels at '{prefix}'");
        switch (node)
        {
            case PyDict dict:
                foreach (var (k, v) in dict)
                    foreach (var leaf in LeavesOf(v, Join(prefix, Convert.ToString(k, CultureInfo.InvariantCulture)!), depth + 1))
                        yield return leaf;
                break;
            case object?[] or List<object?> when node is IList list:
                for (int i = 0; i < list.Count; i++)
                    foreach (var leaf in LeavesOf(list[i], Join(prefix, i.ToString(CultureInfo.InvariantCulture)), depth + 1))
                        yield return leaf;
                break;
            default:
                yield return new(prefix, node);
                break;
        }
    }

    static string Join(string prefix, string key) => prefix.Length == 0 ? key : prefix + "." + key;

    static IEnumerable<Tensor> TensorsIn(object? root) => LeavesOf(root, "", 0).Select(l => l.Value).OfType<Tensor>();

    static List<KeyValuePair<string, Tensor>> FlattenTensors(PyDict dict, string path) =>
        LeavesOf(dict, "", 0).Select(l => l.Value is Tensor t
            ? new KeyValuePair<string, Tensor>(l.Key, t)
            : throw new CheckpointFormatException(path, l.Key, "is not a tensor; safetensors holds tensors only (non-tensor values go in metadata)")).ToList();

    readonly HashSet<Tensor> _taken = new(ReferenceEqualityComparer.Instance);

    /// <summary>Disposes every tensor not handed over to a <see cref="StateDict"/>.</summary>
    public void Dispose()
    {
        foreach (var t in TensorsIn(Root).Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>())
            if (!_taken.Contains(t)) t.Dispose();
    }
}
