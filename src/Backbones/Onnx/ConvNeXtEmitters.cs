using Backbones.Models;
using Backbones.Models.Layers;
using TorchSharp.Modules;

namespace Backbones.Onnx;

/// <summary>
/// ConvNeXt: the CNBlock (depthwise conv, channels-last LayerNorm and MLP between the model's own permutes, layer
/// scale, residual) and the head, whose LayerNorm2d on the pooled 1×1 map is written on the flattened vector, without
/// the two transposes it would need on a map.
/// </summary>
internal static class ConvNeXtEmitters
{
    public static void Register(OnnxEmitterRegistry r)
    {
        r.Module<ConvNeXt.CNBlock>(CNBlock);
        r.Backbone<ConvNeXt>((c, net, path, x) => c.EmitChild(net, path, "features", x), Head);
    }

    static OnnxValue CNBlock(OnnxGraphContext c, ConvNeXt.CNBlock block, string path, OnnxValue x)
    {
        var y = c.EmitChild(block, path, "block", x);
        y = c.Mul(path, y, c.Initializer($"{path}.layer_scale", LayerEmitters.Parameter(block, path, "layer_scale")));
        return c.Add(path, c.EmitChild(block, path, "stochastic_depth", y), x);
    }

    static OnnxValue Head(OnnxGraphContext c, ConvNeXt net, string path, OnnxValue features, bool preLogits)
    {
        var pooled = c.EmitChild(net, path, "avgpool", features);
        string classifierPath = OnnxGraphContext.Join(path, "classifier");
        var classifier = c.Child(net, path, "classifier");
        var children = classifier.named_children().ToList();
        OnnxValue x;
        string normPath = OnnxGraphContext.Join(classifierPath, "0"), flattenPath = OnnxGraphContext.Join(classifierPath, "1");
        if (children.Count == 3 && children[0].module is LayerNorm2d norm && children[1].module is Flatten { start_dim: 1, end_dim: -1 }
            && pooled.Shape.Skip(2).All(d => d == 1) && !c.IsRequested(normPath))
        {
            // LayerNorm over the channels of an N×C×1×1 map is LayerNorm of the N×C vector.
            x = c.Flatten(flattenPath, pooled);
            x = c.LayerNorm(normPath, x, 1, LayerEmitters.Parameter(norm, normPath, "weight"), LayerEmitters.Parameter(norm, normPath, "bias"), norm.Eps);
            c.Record(flattenPath, x);
        }
        else x = LayerEmitters.Children(c, children.Take(2).ToList(), classifierPath, pooled);
        if (OnnxGraphContext.TryChild(net, "head_drop") is not null) x = c.EmitChild(net, path, "head_drop", x);
        return preLogits ? x : LayerEmitters.Children(c, children.Skip(2).ToList(), classifierPath, x);
    }
}
