using Backbones.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Onnx;

/// <summary>VGG, AlexNet and SqueezeNet: plain Sequentials of layers, an adaptive pool and a classifier; SqueezeNet's Fire module.</summary>
internal static class ClassicEmitters
{
    public static void Register(OnnxEmitterRegistry r)
    {
        r.Backbone<Vgg>(Features, PooledClassifier);
        r.Backbone<AlexNet>(Features, PooledClassifier);
        r.Module<SqueezeNet.Fire>(Fire);
        r.Backbone<SqueezeNet>(Features, SqueezeNetHead);
    }

    static OnnxValue Features(OnnxGraphContext c, Backbone net, string path, OnnxValue x) => c.EmitChild(net, path, "features", x);

    /// <summary>Adaptive pool, flatten, the classifier Sequential (all but its last layer for pre-logits).</summary>
    static OnnxValue PooledClassifier(OnnxGraphContext c, Backbone net, string path, OnnxValue features, bool preLogits) =>
        MobileNetEmitters.Classifier(c, net, path, c.Flatten(path, c.EmitChild(net, path, "avgpool", features)), preLogits);

    static OnnxValue Fire(OnnxGraphContext c, SqueezeNet.Fire fire, string path, OnnxValue x)
    {
        var s = c.EmitChild(fire, path, "squeeze_activation", c.EmitChild(fire, path, "squeeze", x));
        var e1 = c.EmitChild(fire, path, "expand1x1_activation", c.EmitChild(fire, path, "expand1x1", s));
        var e3 = c.EmitChild(fire, path, "expand3x3_activation", c.EmitChild(fire, path, "expand3x3", s));
        return c.Concat(path, [e1, e3], 1);
    }

    /// <summary>Dropout, 1×1 conv, ReLU, global pool, flatten; pre-logits is the dropped-out map entering the convolution.</summary>
    static OnnxValue SqueezeNetHead(OnnxGraphContext c, SqueezeNet net, string path, OnnxValue features, bool preLogits)
    {
        string classifierPath = OnnxGraphContext.Join(path, "classifier");
        var classifier = c.Child(net, path, "classifier");
        if (preLogits) return c.EmitChild(classifier, classifierPath, "0", features);
        return c.Flatten(path, c.Emit(classifier, classifierPath, features));
    }
}
