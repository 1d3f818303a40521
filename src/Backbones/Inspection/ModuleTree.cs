using System.Globalization;
using System.Text;
using Backbones.Models.Layers;
using Backbones.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Inspection;

/// <summary>
/// The nested printout of a module tree as PyTorch's <c>print(model)</c> gives it: <c>(name): Type(arguments)</c>,
/// children indented by two spaces, each layer's arguments in PyTorch's own wording.
/// </summary>
public static class ModuleTree
{
    public static string Format(nn.Module module)
    {
        var text = new StringBuilder();
        Write(text, module, 0);
        return text.Append('\n').ToString();
    }

    static void Write(StringBuilder text, nn.Module module, int indent)
    {
        var children = module.named_children().ToList();
        string arguments = Arguments(module);
        text.Append(ModelSummary.TypeName(module)).Append('(');
        if (children.Count == 0)
        {
            text.Append(arguments).Append(')');
            return;
        }
        string pad = new(' ', indent + 2);
        if (arguments.Length > 0) text.Append('\n').Append(pad).Append(arguments);
        foreach (var (name, child) in children)
        {
            text.Append('\n').Append(pad).Append('(').Append(name).Append("): ");
            Write(text, child, indent + 2);
        }
        text.Append('\n').Append(' ', indent).Append(')');
    }

    /// <summary>PyTorch's <c>extra_repr()</c> of the layers the zoo is built from; empty for containers and unknown types.</summary>
    static string Arguments(nn.Module module) => module switch
    {
        Convolution c => ConvArguments(c),
        BatchNorm b => $"{b.num_features}, eps={Float(b.eps)}, momentum={Float(b.momentum ?? 0)}, affine={Bool(b.affine)}, track_running_stats={Bool(b.track_running_stats)}",
        TorchSharp.Modules.LayerNorm l => $"({string.Join(", ", l.normalized_shape)},), eps={Float(l.eps)}, elementwise_affine={Bool(l.elementwise_affine)}",
        LayerNorm2d l => $"({l.Channels},), eps={Float(l.Eps)}, elementwise_affine=True",
        Linear l => $"in_features={l.in_features}, out_features={l.out_features}, bias={Bool(l.bias is not null)}",
        ReLU r => Inplace(r.inplace),
        ReLU6 r => Inplace(r.inplace),
        SiLU s => Inplace(s.inplace),
        GELU g => $"approximate='{(g.approximate == GELU.Approximate.tanh ? "tanh" : "none")}'",
        Dropout d => $"p={Float(d.p)}, inplace={Bool(d.inplace)}",
        MaxPool2d p => $"kernel_size={Size(p.kernel_size)}, stride={Size(p.stride ?? p.kernel_size)}, padding={Size(p.padding ?? [0])}, dilation={Size(p.dilation ?? [1])}, ceil_mode={Bool(p.ceil_mode)}",
        AvgPool2d p => $"kernel_size={Size(p.kernel_size)}, stride={Size(p.stride ?? p.kernel_size)}, padding={Size(p.padding ?? [0])}",
        AdaptiveAvgPool2d p => $"output_size=({string.Join(", ", p.output_size)})",
        Flatten f => $"start_dim={f.start_dim}, end_dim={f.end_dim}",
        StochasticDepth s => $"p={Float(s.P)}, mode={s.DropMode.ToString().ToLowerInvariant()}",
        _ => "",
    };

    static string ConvArguments(Convolution c)
    {
        int n = c.kernel_size.Length;
        long[] Dims(long[]? values, long fallback) => OnnxGraphContext.Expand(values, n, fallback);
        var (padding, dilation, outputPadding) = (Dims(c.padding, 0), Dims(c.dilation, 1), Dims(c.output_padding, 0));
        var text = new StringBuilder($"{c.in_channels}, {c.out_channels}, kernel_size={Tuple(c.kernel_size)}, stride={Tuple(Dims(c.stride, 1))}");
        if (c.padding_type == Padding.Same) text.Append(", padding=same");
        else if (c.padding_type == Padding.Valid) text.Append(", padding=valid");
        else if (padding.Any(p => p != 0)) text.Append($", padding={Tuple(padding)}");
        if (dilation.Any(d => d != 1)) text.Append($", dilation={Tuple(dilation)}");
        if (c.transposed && outputPadding.Any(p => p != 0)) text.Append($", output_padding={Tuple(outputPadding)}");
        if (c.groups != 1) text.Append($", groups={c.groups}");
        if (c.bias is null) text.Append(", bias=False");
        if (c.padding_mode != PaddingModes.Zeros) text.Append($", padding_mode={c.padding_mode.ToString().ToLowerInvariant()}");
        return text.ToString();
    }

    static string Tuple(long[] values) => values.Length == 1 ? $"({values[0]},)" : $"({string.Join(", ", values)})";

    /// <summary>A pooling size as torchvision passes it: one number when every dimension agrees.</summary>
    static string Size(long[] values) => values.Distinct().Count() == 1 ? values[0].ToString(CultureInfo.InvariantCulture) : Tuple(values);

    static string Inplace(bool inplace) => inplace ? "inplace=True" : "";

    static string Bool(bool value) => value ? "True" : "False";

    /// <summary>A float as Python's repr writes it: shortest round trip, <c>1e-05</c>, <c>0.1</c>, <c>0.0</c>.</summary>
    internal static string Float(double value)
    {
        double magnitude = Math.Abs(value);
        string text = magnitude != 0 && (magnitude < 1e-4 || magnitude >= 1e16)
            ? value.ToString("0.################E+00", CultureInfo.InvariantCulture).Replace("E", "e")
            : value.ToString("R", CultureInfo.InvariantCulture);
        if (!text.Contains('e') && !text.Contains('.')) text += ".0";
        return text;
    }
}
