using Backbones.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

/// <summary>
/// Bench-side experiment, not library code: the eval forward of a loaded torchvision-style <see cref="ResNet"/>
/// written with functional ops over its weights. With <c>fold</c>, each eval BatchNorm is folded into the
/// convolution before it (w' = w·s, b' = β − μ·s with s = γ/√(σ²+ε)), so the network runs biased convolutions
/// and no BatchNorm at all; without it the same code runs a separate batch_norm, so the pair shows what the fold gains.
/// </summary>
sealed class FunctionalResNet : nn.Module<Tensor, Tensor>
{
    /// <summary>A convolution and its BatchNorm: folded (Bias set, no Norm) or as they are.</summary>
    sealed record ConvBn(Tensor Weight, Tensor? Bias, BatchNorm2d? Norm, long[] Stride, long[] Padding, long[] Dilation, long Groups)
    {
        public Tensor Apply(Tensor x)
        {
            var y = conv2d(x, Weight, Bias, Stride, Padding, Dilation, Groups);
            return Norm is null ? y : batch_norm(y, Norm.running_mean!, Norm.running_var!, Norm.weight, Norm.bias, false, 0, Norm.eps);
        }
    }

    sealed record Block(ConvBn[] Convs, ConvBn? Downsample);

    readonly ConvBn _stem;
    readonly List<Block> _blocks = [];
    readonly Linear _fc;
    readonly List<Tensor> _owned = []; // the folded tensors (the rest belongs to the model)

    public FunctionalResNet(Backbone model, bool fold, bool channelsLast = false) : base(nameof(FunctionalResNet))
    {
        if (model is not ResNet) throw new ArgumentException($"the functional forward is written for ResNet, not {model.GetType().Name}");
        var modules = model.named_modules().ToDictionary(m => m.name, m => m.module);
        ConvBn Pair(string conv, string bn)
        {
            var c = (Conv2d)modules[conv];
            var norm = (BatchNorm2d)modules[bn];
            var padding = c.padding ?? throw new NotSupportedException($"{conv}: padding given by mode, not by size");
            if (!fold) return new(c.weight!, c.bias, norm, c.stride, padding, c.dilation, c.groups);
            using var _ = no_grad();
            var scale = norm.weight! / (norm.running_var! + norm.eps).sqrt();
            var weight = c.weight! * scale.view(-1, 1, 1, 1);
            var bias = norm.bias! - norm.running_mean! * scale;
            if (c.bias is not null) bias += c.bias * scale;
            if (channelsLast) weight = OursEngine.ChannelsLast(weight);
            _owned.AddRange([weight, bias]);
            return new(weight, bias, null, c.stride, padding, c.dilation, c.groups);
        }

        _stem = Pair("conv1", "bn1");
        foreach (var path in modules.Keys.Where(k => System.Text.RegularExpressions.Regex.IsMatch(k, @"^layer\d\.\d+$")))
        {
            var convs = Enumerable.Range(1, 3).Where(i => modules.ContainsKey($"{path}.conv{i}")).Select(i => Pair($"{path}.conv{i}", $"{path}.bn{i}"));
            var downsample = modules.ContainsKey($"{path}.downsample.0") ? Pair($"{path}.downsample.0", $"{path}.downsample.1") : null;
            _blocks.Add(new(convs.ToArray(), downsample));
        }
        _fc = (Linear)modules["fc"];
    }

    // Block outputs are kept out of dispose scopes and freed as soon as the next block has read them,
    // so at most two live at a time, as in the module forward.
    public override Tensor forward(Tensor input)
    {
        var x = Stem(input);
        foreach (var block in _blocks)
        {
            var next = Run(block, x);
            x.Dispose();
            x = next;
        }
        using var features = x;
        return linear(adaptive_avg_pool2d(features, 1).flatten(1), _fc.weight!, _fc.bias);
    }

    Tensor Stem(Tensor x)
    {
        using var scope = NewDisposeScope();
        return max_pool2d(_stem.Apply(x).relu_(), 3, 2, 1).DetachFromDisposeScope();
    }

    static Tensor Run(Block block, Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = x;
        for (int i = 0; i < block.Convs.Length; i++)
        {
            y = block.Convs[i].Apply(y);
            if (i < block.Convs.Length - 1) y = y.relu_();
        }
        var identity = block.Downsample?.Apply(x) ?? x;
        return y.add_(identity).relu_().DetachFromDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _owned.ForEach(t => t.Dispose());
        base.Dispose(disposing);
    }
}
