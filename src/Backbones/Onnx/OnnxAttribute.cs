using Backbones.Onnx.Proto;
using Google.Protobuf;

namespace Backbones.Onnx;

/// <summary>
/// One attribute of an ONNX node (<c>strides</c>, <c>axis</c>, <c>epsilon</c>, ...), built with <see cref="Int"/>,
/// <see cref="Ints"/>, <see cref="Float"/> or <see cref="String"/>.
/// </summary>
public sealed class OnnxAttribute
{
    readonly AttributeProto _proto;

    OnnxAttribute(AttributeProto proto) => _proto = proto;

    public string Name => _proto.Name;

    public static OnnxAttribute Int(string name, long value) =>
        new(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value });

    public static OnnxAttribute Ints(string name, params IEnumerable<long> values)
    {
        var proto = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        proto.Ints.AddRange(values);
        return new(proto);
    }

    public static OnnxAttribute Float(string name, double value) =>
        new(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = (float)value });

    public static OnnxAttribute String(string name, string value) =>
        new(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) });

    internal AttributeProto ToProto() => _proto.Clone();
}
