using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Onnx;

// The operators emitters are made of, each with its output shape; PyTorch's semantics, ONNX's spelling.
public sealed partial class OnnxGraphContext
{
    public OnnxValue Relu(string path, OnnxValue x) => Unary("Relu", path, x);

    public OnnxValue Sigmoid(string path, OnnxValue x) => Unary("Sigmoid", path, x);

    /// <summary>x·σ(x) (opset 17 has no Swish).</summary>
    public OnnxValue Silu(string path, OnnxValue x) => Mul(path, x, Sigmoid(path, x));

    public OnnxValue Add(string path, OnnxValue a, OnnxValue b) => Binary("Add", path, a, b);

    public OnnxValue Sub(string path, OnnxValue a, OnnxValue b) => Binary("Sub", path, a, b);

    public OnnxValue Mul(string path, OnnxValue a, OnnxValue b) => Binary("Mul", path, a, b);

    public OnnxValue Div(string path, OnnxValue a, OnnxValue b) => Binary("Div", path, a, b);

    OnnxValue Binary(string op, string path, OnnxValue a, OnnxValue b) => Node(op, path, [a, b], Broadcast(path, a.Shape, b.Shape));

    /// <summary>Concatenation along <paramref name="axis"/>; a single value passes through.</summary>
    public OnnxValue Concat(string path, IReadOnlyList<OnnxValue> values, int axis)
    {
        if (values.Count == 1) return values[0];
        var shape = values[0].Shape.ToArray();
        shape[axis] = values.Sum(v => v.Shape[axis]);
        return Node("Concat", path, values, shape, OnnxAttribute.Int("axis", axis));
    }

    /// <summary>torch.flatten(x, start, end): Flatten when it makes a matrix from dimension 1, else Reshape (0 keeps a dimension, so the batch stays free).</summary>
    public OnnxValue Flatten(string path, OnnxValue x, long startDim = 1, long endDim = -1)
    {
        int rank = x.Rank;
        int start = (int)(startDim < 0 ? startDim + rank : startDim), end = (int)(endDim < 0 ? endDim + rank : endDim);
        if (start < 0 || end >= rank || start > end)
            throw new OnnxExportException(path, null, $"cannot flatten dimensions {startDim}..{endDim} of a rank-{rank} tensor");
        var shape = x.Shape.Take(start).Append(x.Shape.Skip(start).Take(end - start + 1).Aggregate(1L, (p, d) => p * d)).Concat(x.Shape.Skip(end + 1)).ToArray();
        if (start == end) return x;
        if (start == 1 && end == rank - 1) return Node("Flatten", path, [x], shape, OnnxAttribute.Int("axis", 1));
        var target = Enumerable.Range(0, shape.Length).Select(i => i < start ? 0L : i == start ? -1L : shape[i]).ToArray();
        return Reshape(path, x, target, shape);
    }

    /// <summary>Reshape to <paramref name="target"/> (0 copies the input's dimension, -1 is inferred), with the resulting <paramref name="shape"/>.</summary>
    internal OnnxValue Reshape(string path, OnnxValue x, long[] target, long[] shape)
    {
        var targetValue = AddInitializer($"{path}/shape", [target.Length], () => tensor(target), null, isInt64: true);
        return Node("Reshape", path, [x, targetValue], shape);
    }

    public OnnxValue Transpose(string path, OnnxValue x, IReadOnlyList<long> perm)
    {
        if (perm.Count != x.Rank) throw new OnnxExportException(path, null, $"a permutation of {perm.Count} dimensions for a rank-{x.Rank} tensor");
        var p = perm.Select(d => d < 0 ? d + x.Rank : d).ToArray();
        return Node("Transpose", path, [x], p.Select(d => x.Shape[(int)d]).ToArray(), OnnxAttribute.Ints("perm", p));
    }

    public OnnxValue GlobalAveragePool(string path, OnnxValue x) =>
        Node("GlobalAveragePool", path, [x], x.Shape.Take(2).Concat(Enumerable.Repeat(1L, x.Rank - 2)).ToArray());

    /// <summary>
    /// torch.nn.Linear: Gemm on a matrix; on a higher-rank input (ConvNeXt's channels-last MLP), MatMul with the
    /// transposed weight stored as such, then the bias.
    /// </summary>
    public OnnxValue Linear(string path, OnnxValue x, Tensor weight, Tensor? bias)
    {
        long outFeatures = weight.shape[0], inFeatures = weight.shape[1];
        if (x.Shape[^1] != inFeatures)
            throw new OnnxExportException(path, null, $"a linear layer of {inFeatures} inputs gets [{string.Join(", ", x.Shape)}]");
        var shape = x.Shape.Take(x.Rank - 1).Append(outFeatures).ToArray();
        var b = bias is null ? null : Initializer(Join(path, "bias"), bias);
        if (x.Rank == 2)
            return Node("Gemm", path, [x, Initializer(Join(path, "weight"), weight), b], shape, OnnxAttribute.Int("transB", 1));
        var wt = Initializer(Join(path, "weight_transposed"), [inFeatures, outFeatures], () => weight.detach().t().contiguous());
        var y = Node("MatMul", path, [x, wt], shape);
        return b is null ? y : Add(path, y, b);
    }

    /// <summary>A 2-D convolution (or transposed convolution) with explicit pads (begin..., end...).</summary>
    internal OnnxValue Conv(string path, OnnxValue x, OnnxValue weight, OnnxValue? bias, long[] stride, long[] pads, long[] dilation,
        long groups, long[]? outputPadding = null)
    {
        int n = x.Rank - 2;
        var kernel = weight.Shape.Skip(2).ToArray();
        bool transposed = outputPadding is not null;
        long inChannels = transposed ? weight.Shape[0] : weight.Shape[1] * groups;
        if (x.Shape[1] != inChannels)
            throw new OnnxExportException(path, null, $"a convolution of {inChannels} input channels gets [{string.Join(", ", x.Shape)}]");
        var shape = new long[x.Rank];
        shape[0] = x.Shape[0];
        shape[1] = transposed ? weight.Shape[1] * groups : weight.Shape[0];
        for (int i = 0; i < n; i++)
        {
            long effective = dilation[i] * (kernel[i] - 1) + 1;
            shape[2 + i] = transposed
                ? (x.Shape[2 + i] - 1) * stride[i] - pads[i] - pads[n + i] + effective + outputPadding![i]
                : FloorDiv(x.Shape[2 + i] + pads[i] + pads[n + i] - effective, stride[i]) + 1;
        }
        var attributes = new List<OnnxAttribute>
        {
            OnnxAttribute.Ints("kernel_shape", kernel),
            OnnxAttribute.Ints("strides", stride),
            OnnxAttribute.Ints("pads", pads),
            OnnxAttribute.Ints("dilations", dilation),
            OnnxAttribute.Int("group", groups),
        };
        if (transposed) attributes.Add(OnnxAttribute.Ints("output_padding", outputPadding!));
        return Node(transposed ? "ConvTranspose" : "Conv", path, [x, weight, bias], shape, attributes);
    }

    /// <summary>
    /// Convolution <paramref name="convName"/> then BatchNorm <paramref name="normName"/>, children of the module at
    /// <paramref name="parentPath"/>: one convolution with the BatchNorm folded in when that is exact, else both.
    /// </summary>
    public OnnxValue ConvBatchNorm(nn.Module parent, string parentPath, string convName, string normName, OnnxValue x)
    {
        var conv = Child(parent, parentPath, convName);
        var norm = Child(parent, parentPath, normName);
        string convPath = Join(parentPath, convName), normPath = Join(parentPath, normName);
        if (!CanFold(conv, convPath, norm))
            return Emit(norm, normPath, Emit(conv, convPath, x));
        return Record(normPath, FoldedConv((Conv2d)conv, convPath, (BatchNorm)norm, normPath, x));
    }

    /// <summary>
    /// Whether BatchNorm <paramref name="norm"/> can be folded into <paramref name="conv"/>, whose output feeds only it:
    /// a plain convolution, a BatchNorm with running statistics, and no one asking for the convolution's own output.
    /// </summary>
    internal bool CanFold(nn.Module conv, string convPath, nn.Module norm) =>
        FoldBatchNorm && conv is Conv2d { transposed: false } && norm is BatchNorm { running_mean: not null, running_var: not null }
        && norm.GetType() == typeof(BatchNorm2d) && !IsRequested(convPath);

    /// <summary>w' = w·γ/√(var+ε), b' = (b−μ)·γ/√(var+ε)+β per output channel, in float64, then float32.</summary>
    internal OnnxValue FoldedConv(Conv2d conv, string convPath, BatchNorm norm, string normPath, OnnxValue x)
    {
        var (stride, pads, dilation) = ConvGeometry(conv, convPath, x);
        var weight = conv.weight!;
        long outChannels = weight.shape[0];
        Tensor Scale()
        {
            using var scope = NewDisposeScope();
            var var64 = norm.running_var!.detach().to_type(ScalarType.Float64);
            var gamma = norm.weight is null ? ones(outChannels, ScalarType.Float64) : norm.weight.detach().to_type(ScalarType.Float64);
            return (gamma / (var64 + norm.eps).sqrt()).MoveToOuterDisposeScope();
        }
        var w = Initializer($"{convPath}.weight.bn_folded", weight.shape, () =>
        {
            using var scope = NewDisposeScope();
            var scale = Scale().view(outChannels, 1, 1, 1);
            return (weight.detach().to_type(ScalarType.Float64) * scale).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
        });
        var b = Initializer($"{convPath}.bias.bn_folded", [outChannels], () =>
        {
            using var scope = NewDisposeScope();
            var bias = conv.bias is null ? zeros(outChannels, ScalarType.Float64) : conv.bias.detach().to_type(ScalarType.Float64);
            var beta = norm.bias is null ? zeros(outChannels, ScalarType.Float64) : norm.bias.detach().to_type(ScalarType.Float64);
            var mean = norm.running_mean!.detach().to_type(ScalarType.Float64);
            return ((bias - mean) * Scale() + beta).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
        });
        Folded.Add((convPath, normPath));
        return Conv(convPath, x, w, b, stride, pads, dilation, conv.groups);
    }

    /// <summary>Strides, explicit pads and dilations of a zero-padded 2-D convolution (padding 'same' resolved as PyTorch does).</summary>
    internal static (long[] Stride, long[] Pads, long[] Dilation) ConvGeometry(Convolution conv, string path, OnnxValue x)
    {
        if (conv.padding_mode != PaddingModes.Zeros)
            throw new OnnxExportException(path, conv.GetType(), $"padding mode {conv.padding_mode} is not supported (only zeros)");
        int n = conv.kernel_size.Length;
        if (x.Rank != n + 2) throw new OnnxExportException(path, conv.GetType(), $"expects a rank-{n + 2} input, got [{string.Join(", ", x.Shape)}]");
        var stride = Expand(conv.stride, n, 1);
        var dilation = Expand(conv.dilation, n, 1);
        var pads = new long[2 * n];
        if (conv.padding_type == Padding.Same)
        {
            for (int i = 0; i < n; i++)
            {
                long total = dilation[i] * (conv.kernel_size[i] - 1);
                pads[i] = total / 2;
                pads[n + i] = total - total / 2;
            }
        }
        else if (conv.padding_type != Padding.Valid)
        {
            var p = Expand(conv.padding, n, 0);
            for (int i = 0; i < n; i++) pads[i] = pads[n + i] = p[i];
        }
        return (stride, pads, dilation);
    }

    internal static long[] Expand(long[]? values, int n, long fallback) =>
        values is null || values.Length == 0 ? Enumerable.Repeat(fallback, n).ToArray()
        : values.Length == 1 ? Enumerable.Repeat(values[0], n).ToArray()
        : values.Length == n ? values.ToArray()
        : throw new ArgumentException($"expected 1 or {n} values, got {values.Length}");

    /// <summary>Eval-mode BatchNorm on its own (after a concatenation or an activation): BatchNormalization with the running statistics.</summary>
    internal OnnxValue BatchNormalization(string path, BatchNorm norm, OnnxValue x)
    {
        if (norm.running_mean is null || norm.running_var is null)
            throw new OnnxExportException(path, norm.GetType(), "has no running statistics (track_running_stats=False), so its eval output depends on the batch");
        long c = norm.num_features;
        if (x.Rank < 2 || x.Shape[1] != c)
            throw new OnnxExportException(path, norm.GetType(), $"normalises {c} channels but gets [{string.Join(", ", x.Shape)}]");
        var scale = norm.weight is null ? Initializer($"{path}.weight", [c], () => ones(c)) : Initializer($"{path}.weight", norm.weight);
        var bias = norm.bias is null ? Initializer($"{path}.bias", [c], () => zeros(c)) : Initializer($"{path}.bias", norm.bias);
        return Node("BatchNormalization", path, [x, scale, bias, Initializer($"{path}.running_mean", norm.running_mean),
            Initializer($"{path}.running_var", norm.running_var)], x.Shape, OnnxAttribute.Float("epsilon", norm.eps));
    }

    /// <summary>LayerNorm over the last <paramref name="normalizedRank"/> dimensions: LayerNormalization from opset 17, its formula before.</summary>
    public OnnxValue LayerNorm(string path, OnnxValue x, int normalizedRank, Tensor? weight, Tensor? bias, double eps)
    {
        var normalized = x.Shape.Skip(x.Rank - normalizedRank).ToArray();
        var w = weight is null ? Initializer($"{path}.weight", normalized, () => ones(normalized)) : Initializer($"{path}.weight", weight);
        var b = bias is null ? null : Initializer($"{path}.bias", bias);
        if (Opset >= 17)
            return Node("LayerNormalization", path, [x, w, b], x.Shape, OnnxAttribute.Int("axis", -normalizedRank), OnnxAttribute.Float("epsilon", eps));
        var axes = OnnxAttribute.Ints("axes", Enumerable.Range(0, normalizedRank).Select(i => (long)(i - normalizedRank)));
        var meanShape = x.Shape.Take(x.Rank - normalizedRank).Concat(Enumerable.Repeat(1L, normalizedRank)).ToArray();
        var centred = Sub(path, x, Node("ReduceMean", path, [x], meanShape, axes));
        var variance = Node("ReduceMean", path, [Mul(path, centred, centred)], meanShape, axes);
        var y = Div(path, centred, Unary("Sqrt", path, Add(path, variance, Scalar((float)eps))));
        y = Mul(path, y, w);
        return b is null ? y : Add(path, y, b);
    }

    /// <summary>GELU, exact (erf) or tanh-approximated: the Gelu operator from opset 20, its formula before (as PyTorch exports it).</summary>
    public OnnxValue Gelu(string path, OnnxValue x, bool tanhApproximation)
    {
        if (Opset >= 20) return Unary("Gelu", path, x, OnnxAttribute.String("approximate", tanhApproximation ? "tanh" : "none"));
        OnnxValue inner;
        if (tanhApproximation)
        {
            var cube = Mul(path, Mul(path, x, x), x);
            var poly = Add(path, x, Mul(path, cube, Scalar(0.044715f)));
            inner = Unary("Tanh", path, Mul(path, poly, Scalar((float)Math.Sqrt(2 / Math.PI))));
        }
        else inner = Unary("Erf", path, Div(path, x, Scalar((float)Math.Sqrt(2))));
        return Mul(path, Mul(path, x, Add(path, inner, Scalar(1f))), Scalar(0.5f));
    }

    /// <summary>Clip to [min, max] (ReLU6), bounds as scalar inputs (opset ≥ 11).</summary>
    public OnnxValue Clip(string path, OnnxValue x, float min, float max) => Node("Clip", path, [x, Scalar(min), Scalar(max)], x.Shape);

    /// <summary>Max or average pooling with PyTorch's arguments; ceil mode becomes explicit end padding so every runtime agrees on the size.</summary>
    internal OnnxValue Pool(string op, string path, Type moduleType, OnnxValue x, long[] kernel, long[]? stride, long[] padding, long[]? dilation,
        bool ceilMode, bool countIncludePad = false)
    {
        int n = kernel.Length;
        stride = stride is null || stride.Length == 0 ? kernel : stride;
        dilation ??= Enumerable.Repeat(1L, n).ToArray();
        var pads = new long[2 * n];
        var shape = x.Shape.ToArray();
        bool extended = false;
        for (int i = 0; i < n; i++)
        {
            long input = x.Shape[2 + i], effective = dilation[i] * (kernel[i] - 1) + 1;
            long span = input + 2 * padding[i] - effective;
            if (span < 0) throw new OnnxExportException(path, moduleType, $"the {kernel[i]}-wide window does not fit the input [{string.Join(", ", x.Shape)}]");
            long output = (ceilMode ? CeilDiv(span, stride[i]) : span / stride[i]) + 1;
            // PyTorch: the last window must start inside the input or its left padding.
            if (ceilMode && (output - 1) * stride[i] >= input + padding[i]) output--;
            pads[i] = padding[i];
            pads[n + i] = padding[i] + Math.Max(0, (output - 1) * stride[i] + effective - (input + 2 * padding[i]));
            extended |= pads[n + i] > padding[i];
            if (pads[n + i] >= kernel[i])
                throw new OnnxExportException(path, moduleType, "ceil mode with a stride larger than the window cannot be written as ONNX padding");
            shape[2 + i] = output;
        }
        var attributes = new List<OnnxAttribute> { OnnxAttribute.Ints("kernel_shape", kernel), OnnxAttribute.Ints("strides", stride), OnnxAttribute.Ints("pads", pads) };
        if (op == "MaxPool") attributes.Add(OnnxAttribute.Ints("dilations", dilation));
        else
        {
            // The extra ceil-mode padding must not count: exact only when padded values never count anyway.
            if (extended && countIncludePad && padding.Any(p => p > 0))
                throw new OnnxExportException(path, moduleType, "average pooling in ceil mode that counts padding has no exact ONNX equivalent");
            attributes.Add(OnnxAttribute.Int("count_include_pad", countIncludePad && !extended ? 1 : 0));
        }
        return Node(op, path, [x], shape, attributes);
    }

    /// <summary>
    /// Adaptive average pooling to <paramref name="output"/> (H, W), exactly: the identity, a global pool, an AveragePool
    /// when the sizes divide, else PyTorch's uneven bins as averaging matrices (two MatMuls).
    /// </summary>
    internal OnnxValue AdaptiveAveragePool(string path, OnnxValue x, long[] output)
    {
        if (x.Rank != 4) throw new OnnxExportException(path, null, $"adaptive pooling expects N×C×H×W, got [{string.Join(", ", x.Shape)}]");
        long h = x.Shape[2], w = x.Shape[3];
        if (output[0] == h && output[1] == w) return x;
        if (output[0] == 1 && output[1] == 1) return GlobalAveragePool(path, x);
        if (h % output[0] == 0 && w % output[1] == 0)
        {
            long[] kernel = [h / output[0], w / output[1]];
            return Node("AveragePool", path, [x], [x.Shape[0], x.Shape[1], output[0], output[1]],
                OnnxAttribute.Ints("kernel_shape", kernel), OnnxAttribute.Ints("strides", kernel));
        }
        var y = x;
        if (output[1] != w)
            y = Node("MatMul", path, [y, Initializer($"{path}/width_bins", [w, output[1]], () => AveragingMatrix(w, output[1]).t().contiguous())],
                [x.Shape[0], x.Shape[1], h, output[1]]);
        if (output[0] != h)
            y = Node("MatMul", path, [Initializer($"{path}/height_bins", [output[0], h], () => AveragingMatrix(h, output[0])), y],
                [x.Shape[0], x.Shape[1], output[0], output[1]]);
        return y;
    }

    /// <summary>Row i averages PyTorch's adaptive bin i: [⌊i·in/out⌋, ⌈(i+1)·in/out⌉).</summary>
    static Tensor AveragingMatrix(long input, long output)
    {
        var m = new float[output * input];
        for (long i = 0; i < output; i++)
        {
            long start = i * input / output, end = CeilDiv((i + 1) * input, output);
            for (long j = start; j < end; j++) m[i * input + j] = 1f / (end - start);
        }
        return tensor(m, [output, input]);
    }

    static long FloorDiv(long a, long b) => (long)Math.Floor((double)a / b);

    static long CeilDiv(long a, long b) => (a + b - 1) / b;

    static long[] Broadcast(string path, IReadOnlyList<long> a, IReadOnlyList<long> b)
    {
        int rank = Math.Max(a.Count, b.Count);
        var shape = new long[rank];
        for (int i = 0; i < rank; i++)
        {
            long da = i < rank - a.Count ? 1 : a[i - (rank - a.Count)], db = i < rank - b.Count ? 1 : b[i - (rank - b.Count)];
            if (da != db && da != 1 && db != 1)
                throw new OnnxExportException(path, null, $"shapes [{string.Join(", ", a)}] and [{string.Join(", ", b)}] do not broadcast");
            shape[i] = Math.Max(da, db);
        }
        return shape;
    }
}
