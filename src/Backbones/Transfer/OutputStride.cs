using Backbones.Models;
using TorchSharp.Modules;

namespace Backbones.Transfer;

/// <summary>
/// Lowers the output stride of a built (possibly pretrained) ResNet-family model in place, as segmentation and
/// re-identification recipes do: dilate the last stages instead of striding (torchvision's
/// <c>replace_stride_with_dilation</c>, DeepLab's output stride 16 or 8), or drop the last stage's stride without
/// dilation (torchreid's <c>last_stride=1</c>). Weights are untouched; only strides, dilations and paddings change.
/// </summary>
public static class OutputStride
{
    /// <summary>
    /// Sets the output stride to 32, 16 or 8 (or 4) exactly as torchvision builds it with
    /// <c>replace_stride_with_dilation</c> [false, false, true] for 16 and [false, true, true] for 8.
    /// </summary>
    public static OutputStrideReport Set(Backbone model, int outputStride)
    {
        var resnet = AsResNet(model);
        bool[] dilate = outputStride switch
        {
            32 => [false, false, false],
            16 => [false, false, true],
            8 => [false, true, true],
            4 => [true, true, true],
            _ => throw new ArgumentOutOfRangeException(nameof(outputStride), outputStride, "a ResNet's output stride can be 32, 16, 8 or 4"),
        };
        return Apply(resnet, dilate.Select(d => d ? Stage.Dilated : Stage.Strided).ToArray());
    }

    /// <summary>
    /// Sets layer4's stride to <paramref name="stride"/> (1 or 2) without dilation, as torchreid's <c>last_stride</c>:
    /// the first block's strided convolution and its downsample get that stride; layer2 and layer3 stay as they are.
    /// </summary>
    public static OutputStrideReport SetLastStride(Backbone model, int stride)
    {
        if (stride is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(stride), stride, "the last stride can be 1 or 2");
        var resnet = AsResNet(model);
        var stages = Current(resnet);
        stages[2] = stride == 1 ? Stage.Undilated : Stage.Strided;
        return Apply(resnet, stages);
    }

    /// <summary>One stage (layer2..layer4) as torchvision's _make_layer sees it: the first block's stride, and the factor it multiplies the dilation by.</summary>
    readonly record struct Stage(long Stride, long DilationFactor)
    {
        public static readonly Stage Strided = new(2, 1);
        public static readonly Stage Dilated = new(1, 2);
        public static readonly Stage Undilated = new(1, 1);
    }

    static readonly string[] Layers = ["layer2", "layer3", "layer4"];

    static ResNet AsResNet(Backbone model) => model as ResNet
        ?? throw new ArgumentException($"output-stride surgery applies to the ResNet family (resnet*, resnext*, wide_resnet*); {Name(model)} is a {model.GetType().Name}", nameof(model));

    static string Name(Backbone model) => model.Architecture.Length > 0 ? model.Architecture : "the model";

    /// <summary>Reads each stage's stride and dilation factor from its convolutions.</summary>
    static Stage[] Current(ResNet model)
    {
        var stages = new Stage[3];
        long dilation = 1;
        for (int k = 0; k < 3; k++)
        {
            var blocks = Blocks(model, Layers[k]);
            long stride = StridedConv(model, blocks[0]).stride[0];
            long last = DilatedConvs(model, blocks[^1]).Max(c => c.Conv.dilation[0]);
            stages[k] = new Stage(stride, last / dilation);
            dilation = last;
        }
        return stages;
    }

    static OutputStrideReport Apply(ResNet model, Stage[] stages)
    {
        // Plan every change first, so a refusal leaves the model as it was.
        var plan = new List<(string Path, Conv2d Conv, long Stride, long Dilation, long Padding)>();
        long dilation = 1;
        for (int k = 0; k < 3; k++)
        {
            long previous = dilation;
            dilation *= stages[k].DilationFactor;
            var blocks = Blocks(model, Layers[k]);
            for (int b = 0; b < blocks.Count; b++)
            {
                // torchvision: the first block gets the stage's stride and the previous dilation, the others the new one.
                long blockDilation = b == 0 ? previous : dilation;
                if (blocks[b].Block is ResNet.BasicBlock && blockDilation > 1)
                    throw new NotSupportedException($"{Name(model)} is built from BasicBlocks, which torchvision does not dilate ({blocks[b].Path} would need dilation {blockDilation}); "
                        + "use SetLastStride(model, 1) for stride 16 without dilation");
                foreach (var (path, conv) in DilatedConvs(model, blocks[b]))
                {
                    bool strided = b == 0 && ReferenceEquals(conv, StridedConv(model, blocks[b]));
                    plan.Add((path, conv, strided ? stages[k].Stride : 1, blockDilation, blockDilation * (conv.kernel_size[0] / 2)));
                }
                string down = blocks[b].Path + ".downsample.0";
                if (b == 0 && TryConv(model, down) is { } downsample) plan.Add((down, downsample, stages[k].Stride, 1, 0));
            }
        }

        var changes = new List<ConvChange>();
        foreach (var (path, conv, stride, dil, padding) in plan)
        {
            var change = new ConvChange(path, conv.stride[0], stride, conv.dilation[0], dil, conv.padding![0], padding);
            if (change.OldStride == stride && change.OldDilation == dil && change.OldPadding == padding) continue;
            conv.stride = [stride, stride];
            conv.dilation = [dil, dil];
            conv.SetPadding([padding, padding]);
            changes.Add(change);
        }

        var reductions = new long[4];
        reductions[0] = 4;
        for (int k = 0; k < 3; k++) reductions[k + 1] = reductions[k] * stages[k].Stride;
        model.SetReductions(reductions);
        return new OutputStrideReport(reductions[3], changes, model.FeatureInfo);
    }

    static IReadOnlyList<(string Path, TorchSharp.torch.nn.Module Block)> Blocks(ResNet model, string layer) =>
        ModulePaths.Find(model, layer).named_children().Select(c => ($"{layer}.{c.name}", c.module)).ToList();

    /// <summary>The block's 3×3 convolutions, which carry the dilation (Bottleneck: conv2; BasicBlock: conv1 and conv2).</summary>
    static IEnumerable<(string Path, Conv2d Conv)> DilatedConvs(ResNet model, (string Path, TorchSharp.torch.nn.Module Block) block) =>
        (block.Block is ResNet.Bottleneck ? ["conv2"] : new[] { "conv1", "conv2" })
        .Select(name => (block.Path + "." + name, TryConv(model, block.Path + "." + name)
            ?? throw new InvalidOperationException($"{block.Path}.{name} is not a Conv2d")));

    /// <summary>The convolution that strides: Bottleneck (ResNet V1.5, as torchvision) conv2, BasicBlock conv1.</summary>
    static Conv2d StridedConv(ResNet model, (string Path, TorchSharp.torch.nn.Module Block) block) =>
        TryConv(model, block.Path + (block.Block is ResNet.Bottleneck ? ".conv2" : ".conv1"))!;

    static Conv2d? TryConv(ResNet model, string path)
    {
        TorchSharp.torch.nn.Module? module = model;
        foreach (var part in path.Split('.')) module = module?.named_children().FirstOrDefault(c => c.name == part).module;
        return module as Conv2d;
    }
}

/// <summary>One convolution whose stride, dilation or padding an output-stride change altered.</summary>
public sealed record ConvChange(string Path, long OldStride, long NewStride, long OldDilation, long NewDilation, long OldPadding, long NewPadding)
{
    public override string ToString()
    {
        var what = new List<string>();
        if (OldStride != NewStride) what.Add($"stride {OldStride}→{NewStride}");
        if (OldDilation != NewDilation) what.Add($"dilation {OldDilation}→{NewDilation}");
        if (OldPadding != NewPadding) what.Add($"padding {OldPadding}→{NewPadding}");
        return $"{Path}: {string.Join(", ", what)}";
    }
}

/// <summary>What an output-stride change did: the new output stride, each convolution changed, the stages' new strides.</summary>
public sealed record OutputStrideReport(long OutputStride, IReadOnlyList<ConvChange> Changes, IReadOnlyList<FeatureInfo> FeatureInfo)
{
    public override string ToString() =>
        $"output stride {OutputStride}; {Changes.Count} convolutions changed"
        + (Changes.Count > 0 ? ":\n  " + string.Join("\n  ", Changes) : "")
        + $"\n  stage strides: {string.Join(", ", FeatureInfo.Select(f => $"{f.Module} {f.Reduction}"))}";
}
