using Backbones.Onnx.Proto;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Onnx;

/// <summary>
/// The graph being written while the exporter walks a module tree: dispatches each module to its type's emitter,
/// remembers every module's output by path (for extra outputs), and offers the nodes emitters are made of, each
/// computing its output's static shape so that shape-dependent choices (exact adaptive pooling) are made at export.
/// </summary>
public sealed partial class OnnxGraphContext
{
    readonly OnnxEmitterRegistry _registry;
    readonly HashSet<string> _requested;
    readonly Dictionary<string, OnnxValue> _moduleOutputs = new(StringComparer.Ordinal);
    readonly HashSet<string> _names = new(StringComparer.Ordinal);
    readonly Dictionary<string, int> _counters = new(StringComparer.Ordinal);
    readonly Dictionary<string, OnnxInitializer> _initializersByName = new(StringComparer.Ordinal);
    readonly Dictionary<float, OnnxValue> _scalars = new();

    internal OnnxGraphContext(OnnxEmitterRegistry registry, int opset, bool foldBatchNorm, IEnumerable<string> requested, bool trackCalls = false)
    {
        _registry = registry;
        Opset = opset;
        FoldBatchNorm = foldBatchNorm;
        _requested = new HashSet<string>(requested, StringComparer.Ordinal);
        if (trackCalls) Calls = [];
    }

    /// <summary>The operator set the graph is written for.</summary>
    public int Opset { get; }

    internal bool FoldBatchNorm { get; }

    internal List<NodeProto> Nodes { get; } = [];

    internal List<OnnxInitializer> Initializers { get; } = [];

    /// <summary>Convolutions a BatchNorm was folded into, as (convolution path, BatchNorm path).</summary>
    internal List<(string Conv, string Norm)> Folded { get; } = [];

    internal IReadOnlyDictionary<string, OnnxValue> ModuleOutputs => _moduleOutputs;

    /// <summary>The graph input, and the graph outputs under their final names.</summary>
    internal OnnxValue? Input { get; set; }

    internal IReadOnlyList<OnnxValue> Outputs { get; set; } = [];

    /// <summary>Whether the caller asked for this module's output, which then must exist as a value of its own.</summary>
    public bool IsRequested(string path) => _requested.Contains(path);

    /// <summary>Emits <paramref name="module"/> at <paramref name="path"/> through its type's emitter and records its output.</summary>
    public OnnxValue Emit(nn.Module module, string path, OnnxValue input)
    {
        var emitter = _registry.Find(module.GetType())
            ?? throw new OnnxExportException(path, module.GetType(),
                "the exporter has no ONNX emitter for this type (supply one in OnnxExportOptions.Emitters)");
        return Record(path, Calls is null ? emitter(this, module, path, input) : EmitTracked(emitter, module, path, input));
    }

    /// <summary>Emits the child called <paramref name="name"/> of the module at <paramref name="parentPath"/>.</summary>
    public OnnxValue EmitChild(nn.Module parent, string parentPath, string name, OnnxValue input) =>
        Emit(Child(parent, parentPath, name), Join(parentPath, name), input);

    /// <summary>The registered child <paramref name="name"/>, or an error naming the module that lacks it.</summary>
    public nn.Module Child(nn.Module parent, string parentPath, string name) =>
        TryChild(parent, name) ?? throw new OnnxExportException(parentPath, parent.GetType(),
            $"has no child '{name}' (children: {string.Join(", ", parent.named_children().Select(c => c.name))})");

    public static nn.Module? TryChild(nn.Module parent, string name) =>
        parent.named_children().FirstOrDefault(c => c.name == name).module;

    /// <summary>A module's path from its parent's: <c>layer1</c> + <c>0</c> → <c>layer1.0</c>.</summary>
    public static string Join(string parentPath, string name) => parentPath.Length == 0 ? name : $"{parentPath}.{name}";

    /// <summary>Records <paramref name="value"/> as the output of the module at <paramref name="path"/> (its last call wins).</summary>
    internal OnnxValue Record(string path, OnnxValue value)
    {
        _moduleOutputs[path] = value;
        return value;
    }

    /// <summary>
    /// Adds one node with a single output of the given shape; a null input is an omitted optional input. The node and
    /// its output are named after the module path and the operator (<c>layer1.0/Relu</c>).
    /// </summary>
    public OnnxValue Node(string opType, string path, IReadOnlyList<OnnxValue?> inputs, IReadOnlyList<long> outputShape,
        params IEnumerable<OnnxAttribute> attributes)
    {
        if (outputShape.Skip(1).Any(d => d <= 0))
            throw new OnnxExportException(path, null, $"{opType} would output the empty shape [{string.Join(", ", outputShape)}]; the input is too small");
        string name = FreshName(path.Length == 0 ? opType : $"{path}/{opType}");
        var node = new NodeProto { OpType = opType, Name = name };
        // Trailing omitted inputs are dropped; inner ones are written as "" as the format wants.
        int count = inputs.Count;
        while (count > 0 && inputs[count - 1] is null) count--;
        for (int i = 0; i < count; i++) node.Input.Add(inputs[i]?.Name ?? "");
        node.Output.Add(name);
        foreach (var a in attributes) node.Attribute.Add(a.ToProto());
        Nodes.Add(node);
        var output = new OnnxValue(name, outputShape.ToArray());
        if (Calls is not null) NodeOrigins[name] = (_callStack.TryPeek(out var call) ? call : null, output);
        return output;
    }

    /// <summary>A node whose output has its (first) input's shape: activations, normalisations.</summary>
    public OnnxValue Unary(string opType, string path, OnnxValue x, params IEnumerable<OnnxAttribute> attributes) =>
        Node(opType, path, [x], x.Shape, attributes);

    /// <summary>A model tensor as a float32 initializer named <paramref name="name"/> (a state-dict key), read when the file is written.</summary>
    public OnnxValue Initializer(string name, Tensor value)
    {
        if (_initializersByName.TryGetValue(name, out var existing) && ReferenceEquals(existing.Source, value))
            return new OnnxValue(existing.Name, existing.Shape);
        return AddInitializer(name, value.shape, () => value.detach(), value);
    }

    /// <summary>A computed float32 initializer, produced by <paramref name="compute"/> when the file is written (the caller's tensor is disposed then).</summary>
    internal OnnxValue Initializer(string name, long[] shape, Func<Tensor> compute) => AddInitializer(name, shape, compute, null);

    /// <summary>A float32 scalar constant, shared by every node that uses the same value.</summary>
    public OnnxValue Scalar(float value)
    {
        if (_scalars.TryGetValue(value, out var known)) return known;
        string text = value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        var v = AddInitializer($"const_{text}", [], () => tensor(value), null);
        _scalars[value] = v;
        return v;
    }

    OnnxValue AddInitializer(string name, long[] shape, Func<Tensor> compute, object? source, bool isInt64 = false)
    {
        string unique = FreshName(name);
        var init = new OnnxInitializer(unique, shape, compute, source, isInt64);
        Initializers.Add(init);
        _initializersByName.TryAdd(name, init);
        return new OnnxValue(unique, shape);
    }

    /// <summary>A value name not used yet: <paramref name="stem"/>, else <c>stem_1</c>, <c>stem_2</c>, ...</summary>
    internal string FreshName(string stem)
    {
        if (_names.Add(stem)) return stem;
        _counters.TryGetValue(stem, out int n);
        string name;
        do name = $"{stem}_{++n}"; while (!_names.Add(name));
        _counters[stem] = n;
        return name;
    }

    /// <summary>Claims a name for a graph input or output so nothing else takes it.</summary>
    internal bool Reserve(string name) => _names.Add(name);

    /// <summary>Renames the value <paramref name="from"/> to <paramref name="to"/> in every node (for graph outputs).</summary>
    internal void Rename(string from, string to)
    {
        foreach (var node in Nodes)
        {
            for (int i = 0; i < node.Input.Count; i++) if (node.Input[i] == from) node.Input[i] = to;
            for (int i = 0; i < node.Output.Count; i++) if (node.Output[i] == from) node.Output[i] = to;
        }
    }
}
