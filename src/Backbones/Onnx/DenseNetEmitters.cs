using Backbones.Models;

namespace Backbones.Onnx;

/// <summary>
/// DenseNet: each dense layer sees the concatenation of all earlier feature maps; its second BatchNorm folds into
/// its 1×1 convolution (the first follows a concatenation and stays a BatchNormalization).
/// </summary>
internal static class DenseNetEmitters
{
    public static void Register(OnnxEmitterRegistry r)
    {
        r.Module<DenseNet.DenseLayer>(DenseLayer);
        r.Module<DenseNet.DenseBlock>(DenseBlock);
        r.Module<DenseNet.Transition>(LayerEmitters.Sequential);
        r.Backbone<DenseNet>((c, net, path, x) => c.EmitChild(net, path, "features", x), Head);
    }

    static OnnxValue DenseLayer(OnnxGraphContext c, DenseNet.DenseLayer layer, string path, OnnxValue x)
    {
        var y = c.EmitChild(layer, path, "relu1", c.EmitChild(layer, path, "norm1", x));
        y = c.EmitChild(layer, path, "relu2", c.ConvBatchNorm(layer, path, "conv1", "norm2", y));
        return c.EmitChild(layer, path, "conv2", y);
    }

    static OnnxValue DenseBlock(OnnxGraphContext c, DenseNet.DenseBlock block, string path, OnnxValue x)
    {
        var features = new List<OnnxValue> { x };
        foreach (var (name, layer) in block.named_children())
            features.Add(c.Emit(layer, OnnxGraphContext.Join(path, name), c.Concat(path, features, 1)));
        return c.Concat(path, features, 1);
    }

    /// <summary>ReLU after norm5, global average pooling, flatten, classifier.</summary>
    static OnnxValue Head(OnnxGraphContext c, DenseNet net, string path, OnnxValue features, bool preLogits)
    {
        var x = c.Flatten(path, c.GlobalAveragePool(path, c.Relu(path, features)));
        return preLogits ? x : c.EmitChild(net, path, "classifier", x);
    }
}
