using Backbones.Models;
using TorchSharp;
using static TorchSharp.torch;
using TorchSharp.Modules;

namespace Backbones.Onnx;

/// <summary>MobileNet V2 and V3: inverted residual blocks (with their shortcut when stride is 1 and channels are kept) and the heads.</summary>
internal static class MobileNetEmitters
{
    public static void Register(OnnxEmitterRegistry r)
    {
        r.Module<MobileNetV2.InvertedResidual>((c, m, path, x) => InvertedResidual(c, m, path, "conv", x));
        r.Module<MobileNetV3.InvertedResidual>((c, m, path, x) => InvertedResidual(c, m, path, "block", x));
        r.Backbone<MobileNetV2>((c, net, path, x) => c.EmitChild(net, path, "features", x),
            (c, net, path, f, pre) => Classifier(c, net, path, c.Flatten(path, c.GlobalAveragePool(path, f)), pre));
        r.Backbone<MobileNetV3>((c, net, path, x) => c.EmitChild(net, path, "features", x),
            (c, net, path, f, pre) => Classifier(c, net, path, c.Flatten(path, c.EmitChild(net, path, "avgpool", f)), pre));
    }

    /// <summary>The block's layers, plus the input when the block keeps the shape (torchvision's use_res_connect: stride 1, same channels).</summary>
    public static OnnxValue InvertedResidual(OnnxGraphContext c, nn.Module block, string path, string layers, OnnxValue x)
    {
        var y = c.EmitChild(block, path, layers, x);
        return KeepsShape(block, x, y) ? c.Add(path, y, x) : y;
    }

    /// <summary>Stride 1 in every convolution and as many channels out as in: the rule all inverted-residual families share.</summary>
    public static bool KeepsShape(nn.Module block, OnnxValue input, OnnxValue output) =>
        block.modules().OfType<Convolution>().All(conv => conv.stride.All(s => s == 1)) && input.Shape[1] == output.Shape[1];

    /// <summary>The classifier Sequential, stopping before its last (linear) layer for pre-logits.</summary>
    public static OnnxValue Classifier(OnnxGraphContext c, nn.Module net, string path, OnnxValue x, bool preLogits)
    {
        string classifierPath = OnnxGraphContext.Join(path, "classifier");
        var classifier = c.Child(net, path, "classifier");
        if (!preLogits) return c.Emit(classifier, classifierPath, x);
        var children = classifier.named_children().ToList();
        return LayerEmitters.Children(c, children.Take(children.Count - 1).ToList(), classifierPath, x);
    }
}
