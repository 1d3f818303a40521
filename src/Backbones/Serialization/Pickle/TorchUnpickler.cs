using System.Buffers.Binary;
using System.Numerics;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Serialization.Pickle;

/// <summary>
/// The allow-list of globals that <c>torch.load(weights_only=True)</c> admits, with what each builds:
/// tensor and parameter rebuild functions, storage and legacy tensor classes of every dtype, OrderedDict,
/// sets, bytes, torch.Size/device/dtype values and numpy scalars. Every other global is refused by name.
/// </summary>
internal sealed class TorchUnpickler : IPickleResolver
{
    readonly string _file;
    readonly Func<object?[], string, StorageRef> _loadStorage;

    /// <param name="loadStorage">Turns a persistent id tuple ('storage', type, key, location, numel, ...) into storage.</param>
    public TorchUnpickler(string file, Func<object?[], string, StorageRef> loadStorage)
    {
        _file = file;
        _loadStorage = loadStorage;
    }

    /// <summary>A legacy tensor class (torch.FloatTensor, ...) used as a constructor.</summary>
    sealed record TensorClass(TorchDType DType);

    /// <summary>A tensor made by a legacy constructor whose storage arrives in the following BUILD.</summary>
    internal sealed class UnbuiltTensor(TorchDType dtype)
    {
        public TorchDType DType { get; } = dtype;
    }

    /// <summary>numpy.dtype('f8'), kept to decode numpy scalars.</summary>
    sealed class NumpyDType(string code)
    {
        public string Code { get; } = code;
        public bool BigEndian { get; set; }
    }

    static readonly HashSet<string> TensorRebuilders =
        ["_rebuild_tensor_v2", "_rebuild_tensor", "_rebuild_parameter", "_rebuild_parameter_with_state"];

    static readonly HashSet<string> TorchDTypeNames =
    [
        "float32", "float", "float64", "double", "float16", "half", "bfloat16", "int64", "long", "int32", "int",
        "int16", "short", "int8", "uint8", "bool", "complex64", "cfloat", "complex128", "cdouble",
    ];

    public object ResolveGlobal(string module, string name, string where)
    {
        switch (module)
        {
            case "collections" when name == "OrderedDict":
            case "builtins" or "__builtin__" when name is "set" or "frozenset" or "bytearray" or "object":
            case "_codecs" when name == "encode":
            case "torch._utils" when TensorRebuilders.Contains(name):
            case "torch._tensor" when name is "_rebuild_from_type_v2" or "_rebuild_from_type":
            case "torch" when name is "Size" or "device" or "Tensor":
            case "torch.nn.parameter" when name == "Parameter":
            case "copy_reg" or "copyreg" when name == "_reconstructor":
            case "numpy.core.multiarray" or "numpy._core.multiarray" when name == "scalar":
            case "numpy" when name == "dtype":
                return new PyGlobal(module, name);
            case "torch" or "torch.cuda" when name.EndsWith("Storage", StringComparison.Ordinal):
                if (name == "UntypedStorage") return TorchDType.Untyped;
                return TorchDType.FromStorageClass(name) ?? throw new CheckpointFormatException(_file, where, $"unknown storage type '{module}.{name}'");
            case "torch.storage" when name == "UntypedStorage":
                return TorchDType.Untyped;
            case "torch" or "torch.cuda" when name.EndsWith("Tensor", StringComparison.Ordinal) && name != "Tensor":
                var storageName = name[..^"Tensor".Length] + "Storage";
                return TorchDType.FromStorageClass(storageName) is { } dt
                    ? new TensorClass(dt)
                    : throw new CheckpointFormatException(_file, where, $"unknown tensor type '{module}.{name}'");
            case "torch" when TorchDTypeNames.Contains(name):
                return new PyGlobal(module, name);
        }
        throw new UnsafePickleException(_file, where, module, name);
    }

    public object? PersistentLoad(object? id, string where) => id switch
    {
        object?[] tuple when tuple.Length > 0 && tuple[0] is "storage" => _loadStorage(tuple, where),
        _ => throw new CheckpointFormatException(_file, where, $"unsupported persistent id {Describe(id)}"),
    };

    public object? Call(object? callable, object?[] args, string where)
    {
        switch (callable)
        {
            case TensorClass tc when args.Length == 0:
                return new UnbuiltTensor(tc.DType);
            case TensorClass:
                throw Fail(where, "a legacy tensor constructor was given arguments; only empty construction followed by its state is supported");
            case PyGlobal g:
                return CallGlobal(g, args, where);
            default:
                throw Fail(where, $"cannot call {Describe(callable)}");
        }
    }

    object? CallGlobal(PyGlobal g, object?[] args, string where)
    {
        switch (g.Name)
        {
            case "OrderedDict":
            {
                var dict = new PyDict { Ordered = true };
                if (args.Length > 0 && args[0] is List<object?> pairs)
                    foreach (var pair in pairs)
                        if (pair is object?[] { Length: 2 } kv && kv[0] is not null) dict[kv[0]!] = kv[1];
                        else throw Fail(where, "OrderedDict built from something other than key/value pairs");
                return dict;
            }
            case "set" or "frozenset":
                return args.Length == 0 ? new HashSet<object?>() : new HashSet<object?>(args[0] as List<object?> ?? throw Fail(where, "set() of a non-list"));
            case "bytearray":
                return args.Length == 0 ? Array.Empty<byte>() : args[0] switch
                {
                    byte[] b => b,
                    string s when args.Length > 1 => Encoding.Latin1.GetBytes(s),
                    _ => throw Fail(where, "bytearray() of an unsupported value"),
                };
            case "encode":
                // Protocol 2 spells bytes as _codecs.encode(text, 'latin1').
                if (args is [string text, string encoding] && encoding.Equals("latin1", StringComparison.OrdinalIgnoreCase))
                    return Encoding.Latin1.GetBytes(text);
                throw Fail(where, "_codecs.encode is accepted only as the latin1 spelling of bytes");
            case "_rebuild_tensor":
                return RebuildTensor(args, 4, where);
            case "_rebuild_tensor_v2":
                return RebuildTensor(args, 6, where);
            case "_rebuild_parameter" or "_rebuild_parameter_with_state":
                return args.Length >= 1 && args[0] is Tensor data ? data : throw Fail(where, "_rebuild_parameter without a tensor");
            case "Parameter":
                return args.Length >= 1 && args[0] is Tensor p ? p : throw Fail(where, "Parameter() without a tensor");
            case "_rebuild_from_type_v2" or "_rebuild_from_type":
                // (func, type, args, state): the tensor comes from func; the Python subclass and its attributes are dropped.
                if (args.Length < 3 || args[2] is not object?[] innerArgs) throw Fail(where, $"{g.Name} with malformed arguments");
                if (args[1] is not PyGlobal { Name: "Tensor" or "Parameter" })
                    throw Fail(where, $"tensor subclass {Describe(args[1])} is not supported");
                return Call(args[0], innerArgs, where);
            case "Size":
                return args.Length == 1 && args[0] is object?[] dims ? dims : throw Fail(where, "torch.Size of a non-tuple");
            case "device":
                return string.Join(":", args.Select(a => a?.ToString()));
            case "_reconstructor":
                // copyreg._reconstructor(cls, object, None): a protocol 0/1 spelling of cls.__new__(cls).
                if (args is [TensorClass tc, ..]) return new UnbuiltTensor(tc.DType);
                throw Fail(where, $"copyreg._reconstructor of {Describe(args.FirstOrDefault())} is not supported");
            case "dtype":
                return args.Length >= 1 && args[0] is string code ? new NumpyDType(code) : throw Fail(where, "numpy.dtype without a type code");
            case "scalar":
                return NumpyScalar(args, where);
        }
        throw Fail(where, $"{g} cannot be called");
    }

    public object? Build(object? target, object? state, string where)
    {
        switch (target)
        {
            case PyDict dict when state is PyDict attrs:
                foreach (var (k, v) in attrs) dict.Attributes[k as string ?? throw Fail(where, "non-string attribute name")] = v;
                return dict;
            case PyDict dict when state is object?[] { Length: 2 } pair && pair[0] is null && pair[1] is PyDict slots:
                foreach (var (k, v) in slots) dict.Attributes[k as string ?? throw Fail(where, "non-string attribute name")] = v;
                return dict;
            case UnbuiltTensor unbuilt:
                return BuildLegacyTensor(unbuilt, state, where);
            case NumpyDType dtype when state is object?[] { Length: >= 2 } s && s[1] is string order:
                dtype.BigEndian = order == ">";
                return dtype;
            case Tensor t when state is null || state is PyDict { Count: 0 } || (state is object[]):
                return t; // Parameter/subclass state (requires_grad, hooks, attributes): not kept
        }
        throw Fail(where, $"cannot restore state onto {Describe(target)}");
    }

    /// <summary>
    /// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]) and its
    /// four-argument predecessor: a view of the storage; requires_grad and hooks are not kept.
    /// </summary>
    Tensor RebuildTensor(object?[] args, int expected, string where)
    {
        if (args.Length < 4 || args.Length < expected - 2 || args.Length > expected + 1)
            throw Fail(where, $"tensor rebuild with {args.Length} arguments");
        if (args[0] is not StorageRef storage) throw Fail(where, "tensor rebuild without a storage");
        return storage.View(Long(args[1], "storage offset", where), Longs(args[2], "size", where), Longs(args[3], "stride", where), where);
    }

    /// <summary>Tensor.__setstate__: (storage, offset, size, stride) or the Variable form whose first item is the data.</summary>
    Tensor BuildLegacyTensor(UnbuiltTensor unbuilt, object? state, string where)
    {
        switch (state)
        {
            case object?[] { Length: 4 } s when s[0] is StorageRef storage:
                if (storage.DType != unbuilt.DType) throw Fail(where, $"a {unbuilt.DType} tensor over a {storage.DType} storage");
                return storage.View(Long(s[1], "storage offset", where), Longs(s[2], "size", where), Longs(s[3], "stride", where), where);
            case object?[] { Length: 5 } s when s[0] is Tensor data:
                return data;
            default:
                throw Fail(where, $"legacy tensor state {Describe(state)} is not (storage, offset, size, stride)");
        }
    }

    object NumpyScalar(object?[] args, string where)
    {
        if (args is not [NumpyDType dtype, byte[] raw]) throw Fail(where, "numpy scalar without a dtype and bytes");
        Span<byte> b = raw.ToArray();
        if (dtype.BigEndian) b.Reverse();
        return (dtype.Code, b.Length) switch
        {
            ("f8", 8) => BinaryPrimitives.ReadDoubleLittleEndian(b),
            ("f4", 4) => (double)BinaryPrimitives.ReadSingleLittleEndian(b),
            ("f2", 2) => (double)BinaryPrimitives.ReadHalfLittleEndian(b),
            ("i8", 8) => BinaryPrimitives.ReadInt64LittleEndian(b),
            ("i4", 4) => (long)BinaryPrimitives.ReadInt32LittleEndian(b),
            ("i2", 2) => (long)BinaryPrimitives.ReadInt16LittleEndian(b),
            ("i1", 1) => (long)(sbyte)b[0],
            ("u1", 1) => (long)b[0],
            ("u2", 2) => (long)BinaryPrimitives.ReadUInt16LittleEndian(b),
            ("u4", 4) => (long)BinaryPrimitives.ReadUInt32LittleEndian(b),
            ("u8", 8) => (object)new BigInteger(BinaryPrimitives.ReadUInt64LittleEndian(b)),
            ("b1", 1) => b[0] != 0,
            _ => throw Fail(where, $"numpy scalar of dtype '{dtype.Code}' is not supported"),
        };
    }

    long Long(object? value, string what, string where) =>
        value is long l ? l : throw Fail(where, $"{what} is {Describe(value)}, not an integer");

    long[] Longs(object? value, string what, string where) => value switch
    {
        object?[] tuple => tuple.Select(v => Long(v, what, where)).ToArray(),
        List<object?> list => list.Select(v => Long(v, what, where)).ToArray(),
        _ => throw Fail(where, $"{what} is {Describe(value)}, not a tuple of integers"),
    };

    CheckpointFormatException Fail(string where, string problem) => new(_file, where, problem);

    internal static string Describe(object? value) => value switch
    {
        null => "None",
        PyGlobal g => $"'{g}'",
        string s => $"'{(s.Length > 40 ? s[..40] + "..." : s)}'",
        object?[] t => $"a tuple of {t.Length}",
        List<object?> l => $"a list of {l.Count}",
        PyDict => "a dict",
        StorageRef => "a storage",
        Tensor => "a tensor",
        UnbuiltTensor => "a tensor whose state was never set",
        _ => value.GetType().Name,
    };
}
