using Backbones.Models;
using Backbones.Onnx;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Inspection;

/// <summary>
/// A model's module graph as data: one node per module call at the chosen depth (leaves above it included), the
/// operators containers compute themselves, edges wherever a tensor flows between nodes (so residual and dense
/// connections show), and the containers above the depth as nested clusters. Built from the ONNX exporter's walk.
/// </summary>
public sealed class ModelGraph
{
    ModelGraph(string title, int depth, IReadOnlyList<ModelGraphNode> nodes, IReadOnlyList<ModelGraphEdge> edges, IReadOnlyList<ModelGraphCluster> clusters)
    {
        Title = title;
        Depth = depth;
        Nodes = nodes;
        Edges = edges;
        Clusters = clusters;
    }

    /// <summary>The architecture's name (<c>resnet18</c>), or the module's type for other modules.</summary>
    public string Title { get; }

    public int Depth { get; }

    /// <summary>Nodes in the order the forward reaches them: the input first, the output last.</summary>
    public IReadOnlyList<ModelGraphNode> Nodes { get; }

    public IReadOnlyList<ModelGraphEdge> Edges { get; }

    /// <summary>Clusters in the order the forward enters them (a parent before its children).</summary>
    public IReadOnlyList<ModelGraphCluster> Clusters { get; }

    public ModelGraphNode Input => Nodes[0];

    public ModelGraphNode Output => Nodes[^1];

    /// <summary>
    /// Walks <paramref name="model"/> as the ONNX exporter does (BatchNorm not folded, every module's output its own
    /// value) for a batch of one and groups what each module call emitted into the nodes at <see cref="ModelGraphOptions.Depth"/>.
    /// </summary>
    public static ModelGraph Build(nn.Module<Tensor, Tensor> model, ModelGraphOptions? options = null)
    {
        options ??= ModelGraphOptions.Default;
        if (options.Depth < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Depth, "the graph depth must be at least 1");
        var backbone = model as Backbone;
        if (backbone is null && options.InputShape is null)
            throw new ArgumentException($"the graph of a {TypeName(model)} (not a zoo backbone) needs ModelGraphOptions.InputShape", nameof(options));
        var sample = options.InputShape ?? OnnxExporter.DefaultInputShape(backbone, backbone?.LoadedWeights?.Catalogue);
        if (sample.Count == 0 || sample.Any(d => d < 1))
            throw new ArgumentException($"input shape [{string.Join(", ", sample)}] needs positive dimensions", nameof(options));

        var modules = model.named_modules().Where(m => m.name.Length > 0).ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
        // Asking for every module's output keeps each module's own nodes apart (no shortcut that merges two modules).
        var context = new OnnxGraphContext(OnnxEmitterRegistry.For(options.Emitters), 17, foldBatchNorm: false, modules.Keys, trackCalls: true);
        const string inputName = "input";
        context.Reserve(inputName);
        var input = new OnnxValue(inputName, [1, .. sample]);
        var output = context.Emit(model, "", input);

        string title = backbone is { Architecture.Length: > 0 } b ? b.Architecture : TypeName(model);
        return new Builder(options.Depth, modules, context).Build(title, input, output);
    }

    public override string ToString() =>
        $"{Title} at depth {Depth}: {Nodes.Count(n => n.Kind == ModelGraphNodeKind.Module)} module calls, "
        + $"{Nodes.Count(n => n.Kind == ModelGraphNodeKind.Operator)} operators, {Edges.Count} edges, {Clusters.Count} clusters";

    /// <summary>A module's class name as PyTorch spells it (the summary's rule).</summary>
    static string TypeName(nn.Module module) => ModelSummary.TypeName(module);

    /// <summary>
    /// A module call as the graph sees it: the exporter's calls, plus a stand-in for a container whose children an
    /// emitter called one by one (ConvNeXt's classifier), so every call sits under its parent path.
    /// </summary>
    sealed class Call(string path, string type, Call? parent)
    {
        public string Path { get; } = path;
        public string Type { get; } = type;
        public Call? Parent { get; } = parent;
        public int Depth { get; } = ModuleWalk.Depth(path);
        public bool HasChildren { get; set; }
        public OnnxValue? Output { get; set; }
        public ModelGraphNode? Node { get; set; }
        public ModelGraphCluster? Cluster { get; set; }
    }

    sealed class Builder(int depth, IReadOnlyDictionary<string, nn.Module> modules, OnnxGraphContext context)
    {
        readonly List<ModelGraphNode> _nodes = [];
        readonly List<ModelGraphEdge> _edges = [];
        readonly HashSet<(string, string)> _edgeSet = [];
        readonly List<ModelGraphCluster> _clusters = [];
        readonly Dictionary<string, int> _callsByPath = new(StringComparer.Ordinal);

        public ModelGraph Build(string title, OnnxValue input, OnnxValue output)
        {
            var calls = Calls();
            var producer = new Dictionary<string, string>(StringComparer.Ordinal) { [input.Name] = Add(ModelGraphNodeKind.Input, "", "input", input.Shape, null).Id };
            foreach (var node in context.Nodes)
            {
                var (origin, value) = context.NodeOrigins[node.Output[0]];
                string id = NodeFor(origin is null ? null : calls[origin], node.OpType, value).Id;
                foreach (var name in node.Input)
                    if (producer.TryGetValue(name, out var from)) Connect(from, id);
                producer[node.Output[0]] = id;
            }
            var last = Add(ModelGraphNodeKind.Output, "", "output", output.Shape, null);
            Connect(producer[output.Name], last.Id);
            return new ModelGraph(title, depth, _nodes, _edges, _clusters);
        }

        /// <summary>The graph's calls for the exporter's, stand-ins inserted where an emitter skipped a container level.</summary>
        Dictionary<OnnxGraphContext.ModuleCall, Call> Calls()
        {
            var calls = new Dictionary<OnnxGraphContext.ModuleCall, Call>();
            var standIns = new Dictionary<(Call, string), Call>();
            foreach (var exported in context.Calls!)
            {
                Call? parent = exported.Parent is null ? null : calls[exported.Parent];
                if (parent is not null && (parent.Path.Length == 0 || exported.Path.StartsWith(parent.Path + ".", StringComparison.Ordinal)))
                {
                    var segments = exported.Path.Split('.');
                    for (int level = parent.Depth + 1; level < segments.Length; level++)
                    {
                        string prefix = string.Join('.', segments[..level]);
                        if (!modules.TryGetValue(prefix, out var container)) continue;
                        if (!standIns.TryGetValue((parent, prefix), out var standIn))
                        {
                            parent.HasChildren = true;
                            standIns[(parent, prefix)] = standIn = new Call(prefix, TypeName(container), parent);
                        }
                        standIn.Output = exported.Output; // the last child's output is the container's
                        parent = standIn;
                    }
                }
                if (parent is not null) parent.HasChildren = true;
                calls[exported] = new Call(exported.Path, TypeName(exported.Module), parent) { Output = exported.Output };
            }
            return calls;
        }

        /// <summary>
        /// The node an operator belongs to: the first call at the graph's depth on the way down to the call that emitted
        /// it, else that call when it is a leaf; an operator a container above the depth emits itself is a node of its own.
        /// </summary>
        ModelGraphNode NodeFor(Call? emitter, string opType, OnnxValue value)
        {
            var chain = new List<Call>();
            for (var c = emitter; c is not null; c = c.Parent) chain.Insert(0, c);
            var owner = chain.FirstOrDefault(c => c.Depth >= depth) ?? (emitter is { HasChildren: false } ? emitter : null);
            if (owner is null) return Add(ModelGraphNodeKind.Operator, emitter?.Path ?? "", opType, value.Shape, ClusterOf(emitter));
            if (owner.Node is null)
            {
                int call = _callsByPath[owner.Path] = _callsByPath.GetValueOrDefault(owner.Path) + 1;
                owner.Node = Add(ModelGraphNodeKind.Module, owner.Path, owner.Type, owner.Output!.Shape, ClusterOf(owner.Parent), call);
            }
            return owner.Node;
        }

        /// <summary>The cluster drawn for a container call (none for the model itself), made with its parents the first time.</summary>
        string? ClusterOf(Call? container)
        {
            if (container?.Parent is null) return null;
            if (container.Cluster is null)
            {
                string? parent = ClusterOf(container.Parent);
                container.Cluster = new ModelGraphCluster($"cluster_{_clusters.Count}", container.Path, container.Type, parent);
                _clusters.Add(container.Cluster);
            }
            return container.Cluster.Id;
        }

        ModelGraphNode Add(ModelGraphNodeKind kind, string path, string type, IReadOnlyList<long> shape, string? cluster, int call = 1)
        {
            var node = new ModelGraphNode($"n{_nodes.Count}", kind, path, type, shape.ToArray(), cluster, call);
            _nodes.Add(node);
            return node;
        }

        void Connect(string from, string to)
        {
            if (from != to && _edgeSet.Add((from, to))) _edges.Add(new ModelGraphEdge(from, to));
        }
    }
}
