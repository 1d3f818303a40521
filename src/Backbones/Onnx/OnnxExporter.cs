using System.Globalization;
using System.Reflection;
using Backbones.Models;
using Backbones.Onnx.Proto;
using Backbones.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Onnx;

/// <summary>
/// Writes a model as an ONNX file from its own module tree (no tracing): every zoo architecture, models changed by
/// surgery, and any module built from layers the exporter knows, in eval-mode semantics with BatchNorm folded into
/// convolutions. The weights set's preprocessing and categories go into the file's metadata.
/// </summary>
public static class OnnxExporter
{
    public const int MinOpset = 14;
    public const int MaxOpset = 21;

    /// <summary>Exports <paramref name="model"/> to <paramref name="path"/> (atomically) and reports what was written.</summary>
    public static OnnxExportReport Export(nn.Module<Tensor, Tensor> model, string path, OnnxExportOptions? options = null)
    {
        options ??= OnnxExportOptions.Default;
        var draft = Build(model, options);
        var (bytes, dataPath, dataBytes) = draft.Write(path, options.ExternalDataThreshold);
        var graph = draft.Skeleton.Graph;
        return new OnnxExportReport(
            Path.GetFullPath(path), bytes, dataPath, dataBytes, options.Opset,
            draft.Context.Input!, options.DynamicBatch, draft.Context.Outputs,
            graph.Node.Count, draft.Initializers.Count, draft.Initializers.Where(i => !i.IsInt64).Sum(i => i.ByteLength / sizeof(float)),
            draft.Context.Folded.Count);
    }

    /// <summary>The ONNX model of <paramref name="model"/>, its weights not yet copied.</summary>
    internal static OnnxModelDraft Build(nn.Module<Tensor, Tensor> model, OnnxExportOptions options)
    {
        if (options.Opset is < MinOpset or > MaxOpset)
            throw new ArgumentOutOfRangeException(nameof(options), options.Opset, $"opset must be {MinOpset} to {MaxOpset}");
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "the batch size must be at least 1");
        var backbone = model as Backbone;
        var weights = options.Weights ?? backbone?.LoadedWeights?.Catalogue;
        var sample = options.InputShape ?? DefaultInputShape(backbone, weights);
        if (sample.Count == 0 || sample.Any(d => d < 1))
            throw new ArgumentException($"input shape [{string.Join(", ", sample)}] needs positive dimensions", nameof(options));

        var registry = OnnxEmitterRegistry.For(options.Emitters);
        var context = new OnnxGraphContext(registry, options.Opset, options.FoldBatchNorm, options.Layers);
        const string inputName = "input";
        context.Reserve(inputName);
        var input = new OnnxValue(inputName, [options.BatchSize, .. sample]);
        context.Input = input;

        string outputName;
        OnnxValue output;
        if (options.Output == ModelOutput.Logits)
        {
            outputName = backbone is null ? "output" : "logits";
            output = context.Emit(model, "", input);
        }
        else
        {
            if (backbone is null) throw new ArgumentException($"{options.Output} needs a zoo backbone; a {model.GetType().Name} only exports its forward", nameof(options));
            var emitter = registry.FindBackbone(backbone.GetType())
                ?? throw new OnnxExportException("", backbone.GetType(), "the exporter does not know where this model's features end");
            var features = context.Record("", emitter.Features(context, backbone, "", input));
            (outputName, output) = options.Output == ModelOutput.Features
                ? ("features", features)
                : ("pre_logits", emitter.Head(context, backbone, "", features, true));
        }

        var outputs = new List<(string Name, OnnxValue Value)> { (outputName, output) };
        var modules = model.named_modules().Select(m => m.name).ToHashSet(StringComparer.Ordinal);
        foreach (var layer in options.Layers)
        {
            if (!modules.Contains(layer) || layer.Length == 0)
                throw new ArgumentException($"'{layer}' is not a module of {Describe(model)}; top-level modules: {string.Join(", ", model.named_children().Select(c => c.name))}", nameof(options));
            if (!context.ModuleOutputs.TryGetValue(layer, out var value))
                throw new ArgumentException($"module '{layer}' is not run by the exported forward (it stops at {options.Output})", nameof(options));
            if (outputs.Any(o => o.Name == layer)) continue;
            outputs.Add((layer, value));
        }
        context.Outputs = NameOutputs(context, outputs);

        var skeleton = Skeleton(model, backbone, weights, context, options);
        return new OnnxModelDraft(skeleton, context.Initializers, context);
    }

    internal static IReadOnlyList<long> DefaultInputShape(Backbone? backbone, WeightsInfo? weights)
    {
        if (backbone is null) throw new ArgumentException("exporting a module other than a zoo backbone needs OnnxExportOptions.InputShape");
        var firstConv = backbone.named_modules().FirstOrDefault(m => m.name == backbone.FirstConvPath).module as TorchSharp.Modules.Convolution
            ?? throw new OnnxExportException(backbone.FirstConvPath, null, "the first convolution is missing; give OnnxExportOptions.InputShape");
        long size = weights?.Transforms?.CropSize ?? 224;
        return [firstConv.in_channels, size, size];
    }

    /// <summary>
    /// Gives each output its name: the value itself is renamed when a node produced it and no other output took it,
    /// else an Identity node copies it (a graph input, or one value asked for twice).
    /// </summary>
    static IReadOnlyList<OnnxValue> NameOutputs(OnnxGraphContext context, List<(string Name, OnnxValue Value)> outputs)
    {
        var renamed = new Dictionary<string, string>(StringComparer.Ordinal);
        var named = new List<OnnxValue>();
        foreach (var (name, value) in outputs)
        {
            if (!context.Reserve(name))
                throw new OnnxExportException($"output name '{name}' is already the name of a value in the graph");
            bool fromNode = context.Nodes.Any(n => n.Output.Contains(value.Name));
            if (fromNode && !renamed.ContainsKey(value.Name))
            {
                context.Rename(value.Name, name);
                renamed[value.Name] = name;
            }
            else
            {
                var node = new NodeProto { OpType = "Identity", Name = $"{name}/Identity" };
                node.Input.Add(renamed.GetValueOrDefault(value.Name, value.Name));
                node.Output.Add(name);
                context.Nodes.Add(node);
            }
            named.Add(value with { Name = name });
        }
        return named;
    }

    static ModelProto Skeleton(nn.Module model, Backbone? backbone, WeightsInfo? weights, OnnxGraphContext context, OnnxExportOptions options)
    {
        string architecture = backbone?.Architecture is { Length: > 0 } a ? a : model.GetType().Name;
        var graph = new GraphProto
        {
            Name = architecture,
            DocString = $"{architecture} ({model.GetType().FullName}) in eval mode, output: {options.Output}"
                + (context.Folded.Count > 0 ? $"; {context.Folded.Count} BatchNorm layers folded into the convolutions before them" : ""),
        };
        graph.Node.AddRange(context.Nodes);
        graph.Input.Add(ValueInfo(context.Input!, options.DynamicBatch));
        foreach (var output in context.Outputs) graph.Output.Add(ValueInfo(output, options.DynamicBatch));

        string version = typeof(OnnxExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";
        var proto = new ModelProto
        {
            IrVersion = IrVersion(options.Opset),
            ProducerName = "Backbones",
            ProducerVersion = version,
            DocString = $"{architecture} exported by Backbones {version}. Input '{context.Input!.Name}': float32 NCHW images scaled to [0, 1] and normalised "
                + "with the mean and std in metadata_props; outputs: " + string.Join(", ", context.Outputs.Select(o => $"'{o.Name}'")) + ".",
            Graph = graph,
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = options.Opset });
        foreach (var (key, value) in Metadata(architecture, backbone, weights, options))
            proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return proto;
    }

    /// <summary>ONNX's IR version for an operator set (the oldest that carries it, so older runtimes load the file).</summary>
    static long IrVersion(int opset) => opset switch
    {
        <= 14 => 7,
        <= 18 => 8,
        <= 20 => 9,
        _ => 10,
    };

    static ValueInfoProto ValueInfo(OnnxValue value, bool dynamicBatch)
    {
        var shape = new TensorShapeProto();
        for (int i = 0; i < value.Rank; i++)
            shape.Dim.Add(i == 0 && dynamicBatch ? new TensorShapeProto.Types.Dimension { DimParam = "batch" } : new TensorShapeProto.Types.Dimension { DimValue = value.Shape[i] });
        return new ValueInfoProto
        {
            Name = value.Name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }

    /// <summary>
    /// metadata_props: architecture, weights, torchvision's preprocessing (resize_size, crop_size, interpolation, mean,
    /// std) and the category names one per line (only when they match the classifier), then the caller's entries.
    /// </summary>
    static IEnumerable<(string Key, string Value)> Metadata(string architecture, Backbone? backbone, WeightsInfo? weights, OnnxExportOptions options)
    {
        var entries = new List<(string, string)> { ("architecture", architecture), ("output", options.Output.ToString()) };
        if (weights is { Transforms: { } t })
        {
            entries.Add(("weights", weights.FullName));
            entries.Add(("resize_size", t.ResizeSize.ToString(CultureInfo.InvariantCulture)));
            entries.Add(("crop_size", t.CropSize.ToString(CultureInfo.InvariantCulture)));
            entries.Add(("interpolation", t.Interpolation));
            entries.Add(("mean", string.Join(",", t.Mean.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))));
            entries.Add(("std", string.Join(",", t.Std.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))));
            if (weights.Categories.Count > 0 && backbone is not null && weights.Categories.Count == backbone.NumClasses)
                entries.Add(("categories", string.Join("\n", weights.Categories)));
        }
        else if (backbone?.LoadedWeights is { } loaded) entries.Add(("weights", Path.GetFileName(loaded.File)));
        if (backbone is not null) entries.Add(("num_classes", backbone.NumClasses.ToString(CultureInfo.InvariantCulture)));
        var extra = options.Metadata ?? new Dictionary<string, string>();
        return entries.Where(e => !extra.ContainsKey(e.Item1)).Concat(extra.Select(kv => (kv.Key, kv.Value)));
    }

    static string Describe(nn.Module model) => model is Backbone { Architecture.Length: > 0 } b ? b.Architecture : model.GetType().Name;
}
