using System.Globalization;
using Backbones.Models;
using Backbones.Onnx;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Inspection;

/// <summary>
/// torchinfo's summary of a model: one row per module call (in call order, with its depth), its output shape,
/// parameters and mult-adds counted by torchinfo's rule, then totals. Built from one eval-mode forward without autograd.
/// </summary>
public sealed record ModelSummary(string Model, IReadOnlyList<long> InputShape, IReadOnlyList<SummaryRow> Rows, SummaryTotals Totals)
{
    /// <summary>
    /// Summarises a zoo model on <paramref name="batch"/> samples of <paramref name="sample"/> (C×H×W; default its input
    /// channels at its weights' crop size, else 224).
    /// </summary>
    public static ModelSummary Create(Backbone model, long batch = 1, IReadOnlyList<long>? sample = null, Device? device = null) =>
        Create(model, [batch, .. sample ?? OnnxExporter.DefaultInputShape(model, model.LoadedWeights?.Catalogue)], device);

    /// <summary>Runs <paramref name="model"/> once on zeros of <paramref name="inputShape"/> (batch first) and records every module call.</summary>
    public static ModelSummary Create(nn.Module<Tensor, Tensor> model, IReadOnlyList<long> inputShape, Device? device = null)
    {
        if (inputShape.Count < 2 || inputShape.Any(d => d < 1))
            throw new ArgumentException($"input shape [{string.Join(", ", inputShape)}] needs a batch and positive sizes", nameof(inputShape));
        var calls = new List<Call>();
        var open = new Stack<Call>();
        var removers = new List<Action>();
        bool wasTraining = model.training;
        try
        {
            foreach (var (path, module) in ModuleWalk.Modules(model))
            {
                if (module is not nn.Module<Tensor, Tensor> typed) continue;
                bool leaf = !module.named_children().Any();
                int depth = ModuleWalk.Depth(path);
                removers.Add(typed.register_forward_pre_hook((m, input) =>
                {
                    var call = new Call(path, depth, module, leaf);
                    calls.Add(call);
                    open.Push(call);
                    return input;
                }).remove);
                removers.Add(typed.register_forward_hook((m, input, output) =>
                {
                    var call = open.Pop();
                    call.OutputShape = output.shape;
                    call.OutputBytes = output.numel() * output.ElementSize;
                    if (leaf)
                    {
                        call.MultAdds = MultAdds(module, output.shape);
                        foreach (var outer in open) outer.MultAdds += call.MultAdds;
                    }
                    return output;
                }).remove);
            }
            model.eval();
            using (no_grad())
            using (var scope = NewDisposeScope())
                model.call(zeros(inputShape.ToArray(), device: device ?? Parameters(model).FirstOrDefault()?.device));
        }
        finally
        {
            foreach (var remove in removers) remove();
            model.train(wasTraining);
        }

        var rows = calls.Select(c =>
        {
            var parameters = Parameters(c.Module).ToList();
            long trainable = parameters.Where(p => p.requires_grad).Sum(p => p.numel());
            return new SummaryRow(c.Path, c.Depth, TypeName(c.Module), c.OutputShape ?? [], parameters.Sum(p => p.numel()), trainable,
                c.MultAdds, c.IsLeaf);
        }).ToList();
        var all = Parameters(model).ToList();
        var totals = new SummaryTotals(
            all.Sum(p => p.numel()),
            all.Where(p => p.requires_grad).Sum(p => p.numel()),
            calls.Where(c => c.IsLeaf).Sum(c => c.MultAdds),
            all.Sum(p => p.numel() * p.ElementSize) / 1e6,
            calls.Where(c => c.IsLeaf).Sum(c => c.OutputBytes) / 1e6);
        return new ModelSummary(TypeName(model), inputShape.ToArray(), rows, totals);
    }

    /// <summary>
    /// torchinfo's mult-adds of one leaf call: a convolution's weight and bias once per output position, a linear
    /// layer's once per output row, anything else's parameters once per sample.
    /// </summary>
    internal static long MultAdds(nn.Module module, long[] outputShape)
    {
        long total = 0;
        string type = TypeName(module);
        foreach (var (name, p) in module.named_parameters())
        {
            if (name is not ("weight" or "bias")) continue;
            long count = p.numel();
            if (type.Contains("Conv", StringComparison.Ordinal))
                total += count * outputShape[0] * outputShape.Skip(2).Aggregate(1L, (a, b) => a * b);
            else if (type.Contains("Linear", StringComparison.Ordinal))
                total += count * outputShape.SkipLast(1).Aggregate(1L, (a, b) => a * b);
            else total += count * outputShape[0];
        }
        return total;
    }

    /// <summary>A module's class name as PyTorch spells it (torchvision's private block names included).</summary>
    public static string TypeName(nn.Module module)
    {
        string name = module.GetType().Name;
        int tick = name.IndexOf('`');
        if (tick >= 0) name = name[..tick];
        return name switch
        {
            "DenseLayer" => "_DenseLayer",
            "DenseBlock" => "_DenseBlock",
            "Transition" => "_Transition",
            "Vgg" => "VGG",
            _ => name,
        };
    }

    /// <summary>Each parameter once (a module's own, then its children's), as <c>parameters()</c> lists them.</summary>
    static IEnumerable<TorchSharp.Modules.Parameter> Parameters(nn.Module module) => ModuleWalk.Parameters(module).Select(p => p.Parameter);

    /// <summary>The rows down to <paramref name="depth"/> (the model itself is depth 0, its children depth 1).</summary>
    public IEnumerable<SummaryRow> RowsTo(int depth) => Rows.Where(r => r.Depth <= depth);

    /// <summary>torchinfo's layout: the indented call tree, output shapes, parameters and mult-adds, then the totals.</summary>
    public void WriteText(TextWriter output, int depth)
    {
        var rows = RowsTo(depth).Where(r => r.Depth > 0).Select(r =>
        {
            // A row whose children are listed shows "--", as torchinfo does; a leaf or a cut subtree shows its own totals.
            bool expanded = !r.IsLeaf && r.Depth < depth;
            string label = new string(' ', 2 * (r.Depth - 1)) + (r.Path.Length == 0 ? "" : r.Path[(r.Path.LastIndexOf('.') + 1)..] + ": ") + r.Type;
            return (IReadOnlyList<string>)
            [
                label, Shape(r.OutputShape),
                expanded || r.Params == 0 ? "--" : Count(r.Params),
                r.Params == 0 ? "--" : r.TrainableParams == r.Params ? "True" : r.TrainableParams == 0 ? "False" : "Partial",
                expanded || r.MultAdds == 0 ? "--" : Count(r.MultAdds),
            ];
        }).ToList();
        output.WriteLine($"{Model}, input {Shape(InputShape)}");
        TextTable.Write(output, ["layer", "output shape", "params", "trainable", "mult-adds"], rows);
        output.WriteLine();
        output.WriteLine($"total params: {Count(Totals.Params)}");
        output.WriteLine($"trainable params: {Count(Totals.TrainableParams)}");
        output.WriteLine($"non-trainable params: {Count(Totals.Params - Totals.TrainableParams)}");
        output.WriteLine($"total mult-adds (G): {(Totals.MultAdds / 1e9).ToString("F2", CultureInfo.InvariantCulture)}");
        output.WriteLine($"params size (MB): {Totals.ParamMegabytes.ToString("F2", CultureInfo.InvariantCulture)}");
        output.WriteLine($"forward activations size (MB): {Totals.ActivationMegabytes.ToString("F2", CultureInfo.InvariantCulture)}");
    }

    /// <summary>The <c>--json</c> document: rows down to <paramref name="depth"/> and the totals.</summary>
    public object ToJson(int depth) => new Dictionary<string, object>
    {
        ["model"] = Model,
        ["input_shape"] = InputShape,
        ["rows"] = RowsTo(depth).Select(r => new Dictionary<string, object>
        {
            ["path"] = r.Path,
            ["depth"] = r.Depth,
            ["type"] = r.Type,
            ["output_shape"] = r.OutputShape,
            ["params"] = r.Params,
            ["trainable"] = r.Params > 0 && r.TrainableParams == r.Params,
            ["trainable_params"] = r.TrainableParams,
            ["mult_adds"] = r.MultAdds,
        }).ToList(),
        ["totals"] = new Dictionary<string, object>
        {
            ["params"] = Totals.Params,
            ["trainable_params"] = Totals.TrainableParams,
            ["mult_adds"] = Totals.MultAdds,
            ["param_mb"] = Math.Round(Totals.ParamMegabytes, 4),
            ["activation_mb"] = Math.Round(Totals.ActivationMegabytes, 4),
        },
    };

    static string Shape(IReadOnlyList<long> shape) => "[" + string.Join(", ", shape) + "]";

    static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    sealed class Call(string path, int depth, nn.Module module, bool isLeaf)
    {
        public string Path { get; } = path;
        public int Depth { get; } = depth;
        public nn.Module Module { get; } = module;
        public bool IsLeaf { get; } = isLeaf;
        public long[]? OutputShape { get; set; }
        public long OutputBytes { get; set; }
        public long MultAdds { get; set; }
    }
}

/// <summary>One module call of a <see cref="ModelSummary"/>: parameters and mult-adds include the module's children.</summary>
public sealed record SummaryRow(string Path, int Depth, string Type, IReadOnlyList<long> OutputShape, long Params, long TrainableParams,
    long MultAdds, bool IsLeaf);

/// <summary>A summary's totals: each parameter counted once, mult-adds and activations over leaf calls, sizes in MB (10^6 bytes).</summary>
public sealed record SummaryTotals(long Params, long TrainableParams, long MultAdds, double ParamMegabytes, double ActivationMegabytes);
