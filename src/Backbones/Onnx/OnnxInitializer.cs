using static TorchSharp.torch;

namespace Backbones.Onnx;

/// <summary>
/// A constant of the graph (float32, or int64 for shapes), materialised only when the file is written (a model
/// parameter borrowed as is, or a folded weight computed then), so a graph can be described and hashed without its weights.
/// </summary>
internal sealed record OnnxInitializer(string Name, long[] Shape, Func<Tensor> Compute, object? Source, bool IsInt64)
{
    public long ByteLength => Shape.Aggregate(1L, (a, b) => checked(a * b)) * (IsInt64 ? sizeof(long) : sizeof(float));
}
