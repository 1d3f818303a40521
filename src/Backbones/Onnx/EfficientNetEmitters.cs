using Backbones.Models;

namespace Backbones.Onnx;

/// <summary>EfficientNet: MBConv blocks (stochastic depth is the identity in eval) and the pooled, dropped-out linear head.</summary>
internal static class EfficientNetEmitters
{
    public static void Register(OnnxEmitterRegistry r)
    {
        r.Module<EfficientNet.MBConv>(MBConv);
        r.Backbone<EfficientNet>((c, net, path, x) => c.EmitChild(net, path, "features", x),
            (c, net, path, f, pre) => MobileNetEmitters.Classifier(c, net, path, c.Flatten(path, c.EmitChild(net, path, "avgpool", f)), pre));
    }

    static OnnxValue MBConv(OnnxGraphContext c, EfficientNet.MBConv block, string path, OnnxValue x)
    {
        var y = c.EmitChild(block, path, "block", x);
        if (!MobileNetEmitters.KeepsShape(block, x, y)) return y;
        return c.Add(path, c.EmitChild(block, path, "stochastic_depth", y), x);
    }
}
