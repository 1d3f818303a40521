using Backbones.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Onnx;

/// <summary>ResNet, ResNeXt and Wide ResNet: the two residual blocks and the network's forward, as Models/ResNet.cs computes them.</summary>
internal static class ResNetEmitters
{
    public static void Register(OnnxEmitterRegistry r)
    {
        r.Module<ResNet.BasicBlock>(BasicBlock);
        r.Module<ResNet.Bottleneck>(Bottleneck);
        r.Backbone<ResNet>(Features, Head);
    }

    // The shared ReLU is emitted as a call of the child `relu` each time the forward calls it, as PyTorch's hooks see it.
    static OnnxValue BasicBlock(OnnxGraphContext c, ResNet.BasicBlock block, string path, OnnxValue x)
    {
        var y = c.EmitChild(block, path, "relu", c.ConvBatchNorm(block, path, "conv1", "bn1", x));
        y = c.ConvBatchNorm(block, path, "conv2", "bn2", y);
        return c.EmitChild(block, path, "relu", c.Add(path, y, Shortcut(c, block, path, x)));
    }

    static OnnxValue Bottleneck(OnnxGraphContext c, ResNet.Bottleneck block, string path, OnnxValue x)
    {
        var y = c.EmitChild(block, path, "relu", c.ConvBatchNorm(block, path, "conv1", "bn1", x));
        y = c.EmitChild(block, path, "relu", c.ConvBatchNorm(block, path, "conv2", "bn2", y));
        y = c.ConvBatchNorm(block, path, "conv3", "bn3", y);
        return c.EmitChild(block, path, "relu", c.Add(path, y, Shortcut(c, block, path, x)));
    }

    static OnnxValue Shortcut(OnnxGraphContext c, nn.Module block, string path, OnnxValue x) =>
        OnnxGraphContext.TryChild(block, "downsample") is null ? x : c.EmitChild(block, path, "downsample", x);

    static OnnxValue Features(OnnxGraphContext c, ResNet net, string path, OnnxValue x)
    {
        x = c.EmitChild(net, path, "relu", c.ConvBatchNorm(net, path, "conv1", "bn1", x));
        foreach (var name in new[] { "maxpool", "layer1", "layer2", "layer3", "layer4" }) x = c.EmitChild(net, path, name, x);
        return x;
    }

    static OnnxValue Head(OnnxGraphContext c, ResNet net, string path, OnnxValue features, bool preLogits)
    {
        var x = c.Flatten(path, c.EmitChild(net, path, "avgpool", features));
        if (OnnxGraphContext.TryChild(net, "dropout") is not null) x = c.EmitChild(net, path, "dropout", x);
        return preLogits ? x : c.EmitChild(net, path, "fc", x);
    }
}
