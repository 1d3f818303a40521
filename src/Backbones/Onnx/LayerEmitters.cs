using Backbones.Models.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Onnx;

/// <summary>
/// Emitters of the building blocks: torch.nn's layers (eval mode: dropout and stochastic depth are the identity,
/// BatchNorm uses its running statistics) and the small shared layers of Backbones.Models.Layers.
/// </summary>
internal static class LayerEmitters
{
    public static void Register(OnnxEmitterRegistry r)
    {
        r.Module<Sequential>(Sequential);
        r.Module<Conv2dNormActivation>((c, m, path, x) => Sequential(c, m, path, x));

        r.Module<Conv1d>(Convolution);
        r.Module<Conv2d>(Convolution);
        r.Module<ConvTranspose2d>(TransposedConvolution);
        r.Module<BatchNorm1d>((c, m, path, x) => c.BatchNormalization(path, m, x));
        r.Module<BatchNorm2d>((c, m, path, x) => c.BatchNormalization(path, m, x));
        r.Module<Linear>((c, m, path, x) => c.Linear(path, x, m.weight!, m.bias));
        r.Module<LayerNorm>((c, m, path, x) => c.LayerNorm(path, x, m.normalized_shape.Length, m.weight, m.bias, m.eps));
        r.Module<LayerNorm2d>(LayerNormOverChannels);

        r.Module<ReLU>((c, _, path, x) => c.Relu(path, x));
        r.Module<ReLU6>((c, _, path, x) => c.Clip(path, x, 0, 6));
        r.Module<SiLU>((c, _, path, x) => c.Silu(path, x));
        r.Module<Sigmoid>((c, _, path, x) => c.Sigmoid(path, x));
        r.Module<Tanh>((c, _, path, x) => c.Unary("Tanh", path, x));
        r.Module<Hardswish>((c, _, path, x) => c.Unary("HardSwish", path, x));
        // relu6(x + 3) / 6, as HardSigmoid's max(0, min(1, αx + β))
        r.Module<Hardsigmoid>((c, _, path, x) => c.Unary("HardSigmoid", path, x, OnnxAttribute.Float("alpha", 1.0 / 6), OnnxAttribute.Float("beta", 0.5)));
        r.Module<GELU>((c, m, path, x) => c.Gelu(path, x, m.approximate == GELU.Approximate.tanh));
        r.Module<LeakyReLU>((c, m, path, x) => c.Unary("LeakyRelu", path, x, OnnxAttribute.Float("alpha", m.negative_slope)));
        r.Module<ELU>((c, m, path, x) => c.Unary("Elu", path, x, OnnxAttribute.Float("alpha", m.alpha)));
        r.Module<Softmax>((c, m, path, x) => c.Unary("Softmax", path, x, OnnxAttribute.Int("axis", m.dim)));

        r.Module<MaxPool2d>((c, m, path, x) => c.Pool("MaxPool", path, m.GetType(), x, Two(m.kernel_size), Two(m.stride, Two(m.kernel_size)),
            Two(m.padding, [0, 0]), Two(m.dilation, [1, 1]), m.ceil_mode));
        r.Module<AvgPool2d>(AveragePool);
        r.Module<AdaptiveAvgPool2d>((c, m, path, x) => c.AdaptiveAveragePool(path, x, Two(m.output_size)));
        r.Module<AdaptiveMaxPool2d>(AdaptiveMaxPool);
        r.Module<Flatten>((c, m, path, x) => c.Flatten(path, x, m.start_dim, m.end_dim));
        r.Module<Permute>((c, m, path, x) => c.Transpose(path, x, m.Dims));

        // The identity in eval mode.
        r.Module<Identity>((_, _, _, x) => x);
        r.Module<Dropout>((_, _, _, x) => x);
        r.Module<Dropout2d>((_, _, _, x) => x);
        r.Module<StochasticDepth>((_, _, _, x) => x);

        r.Module<SqueezeExcitation>(SqueezeAndExcite);
    }

    /// <summary>Children in order; a convolution followed by its BatchNorm becomes one folded convolution.</summary>
    public static OnnxValue Sequential(OnnxGraphContext c, nn.Module sequential, string path, OnnxValue x) =>
        Children(c, sequential.named_children().ToList(), path, x);

    /// <summary>The given children of the module at <paramref name="path"/>, in order, folding conv + BatchNorm pairs.</summary>
    public static OnnxValue Children(OnnxGraphContext c, IReadOnlyList<(string Name, nn.Module Module)> children, string path, OnnxValue x)
    {
        for (int i = 0; i < children.Count; i++)
        {
            var (name, module) = children[i];
            string childPath = OnnxGraphContext.Join(path, name);
            if (i + 1 < children.Count && c.CanFold(module, childPath, children[i + 1].Module))
            {
                string normPath = OnnxGraphContext.Join(path, children[i + 1].Name);
                x = c.Record(normPath, c.FoldedConv((Conv2d)module, childPath, (BatchNorm)children[i + 1].Module, normPath, x));
                i++;
            }
            else x = c.Emit(module, childPath, x);
        }
        return x;
    }

    static OnnxValue Convolution(OnnxGraphContext c, Convolution conv, string path, OnnxValue x)
    {
        var (stride, pads, dilation) = OnnxGraphContext.ConvGeometry(conv, path, x);
        var bias = conv.bias is null ? null : c.Initializer($"{path}.bias", conv.bias);
        return c.Conv(path, x, c.Initializer($"{path}.weight", conv.weight!), bias, stride, pads, dilation, conv.groups);
    }

    static OnnxValue TransposedConvolution(OnnxGraphContext c, ConvTranspose2d conv, string path, OnnxValue x)
    {
        var (stride, pads, dilation) = OnnxGraphContext.ConvGeometry(conv, path, x);
        var bias = conv.bias is null ? null : c.Initializer($"{path}.bias", conv.bias);
        var outputPadding = OnnxGraphContext.Expand(conv.output_padding, conv.kernel_size.Length, 0);
        return c.Conv(path, x, c.Initializer($"{path}.weight", conv.weight!), bias, stride, pads, dilation, conv.groups, outputPadding);
    }

    static OnnxValue AveragePool(OnnxGraphContext c, AvgPool2d pool, string path, OnnxValue x)
    {
        if (pool.divisor_override is not null)
            throw new OnnxExportException(path, pool.GetType(), "divisor_override has no ONNX equivalent");
        return c.Pool("AveragePool", path, pool.GetType(), x, Two(pool.kernel_size), Two(pool.stride, Two(pool.kernel_size)), Two(pool.padding, [0, 0]),
            null, pool.ceil_mode, pool.count_include_pad);
    }

    static OnnxValue AdaptiveMaxPool(OnnxGraphContext c, AdaptiveMaxPool2d pool, string path, OnnxValue x)
    {
        var output = Two(pool.output_size);
        long h = x.Shape[2], w = x.Shape[3];
        if (output[0] == h && output[1] == w) return x;
        if (output[0] == 1 && output[1] == 1) return c.Node("GlobalMaxPool", path, [x], [x.Shape[0], x.Shape[1], 1, 1]);
        if (h % output[0] != 0 || w % output[1] != 0)
            throw new OnnxExportException(path, pool.GetType(), $"adaptive max pooling from {h}×{w} to {output[0]}×{output[1]} has uneven bins, which ONNX's MaxPool cannot express");
        long[] kernel = [h / output[0], w / output[1]];
        return c.Pool("MaxPool", path, pool.GetType(), x, kernel, kernel, [0, 0], null, false);
    }

    /// <summary>ConvNeXt's LayerNorm2d: to channels-last, LayerNorm over channels, back.</summary>
    static OnnxValue LayerNormOverChannels(OnnxGraphContext c, LayerNorm2d norm, string path, OnnxValue x)
    {
        var (weight, bias) = (Parameter(norm, path, "weight"), Parameter(norm, path, "bias"));
        var y = c.LayerNorm(path, c.Transpose(path, x, [0, 2, 3, 1]), 1, weight, bias, norm.Eps);
        return c.Transpose(path, y, [0, 3, 1, 2]);
    }

    static OnnxValue SqueezeAndExcite(OnnxGraphContext c, SqueezeExcitation se, string path, OnnxValue x)
    {
        var s = c.EmitChild(se, path, "avgpool", x);
        s = c.EmitChild(se, path, "fc1", s);
        s = c.EmitChild(se, path, "activation", s);
        s = c.EmitChild(se, path, "fc2", s);
        s = c.EmitChild(se, path, "scale_activation", s);
        return c.Mul(path, s, x);
    }

    /// <summary>A module's own parameter by name (not a child's), or an error naming the module.</summary>
    public static Tensor Parameter(nn.Module module, string path, string name) =>
        module.named_parameters(recurse: false).FirstOrDefault(p => p.name == name).parameter
        ?? throw new OnnxExportException(path, module.GetType(), $"has no parameter '{name}'");

    static long[] Two(long[]? values, long[]? fallback = null) =>
        values is null || values.Length == 0 ? fallback ?? throw new ArgumentException("a size is missing") : OnnxGraphContext.Expand(values, 2, 0);
}
