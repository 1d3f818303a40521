using static TorchSharp.torch;

namespace Backbones.Serialization;

/// <summary>
/// One tensor element type as PyTorch, its legacy storage classes, safetensors and TorchSharp each spell it.
/// </summary>
public sealed record TorchDType(string Name, string StorageClass, string SafeTensorsName, ScalarType ScalarType, int ElementSize)
{
    public static readonly IReadOnlyList<TorchDType> All =
    [
        new("float32", "FloatStorage", "F32", ScalarType.Float32, 4),
        new("float64", "DoubleStorage", "F64", ScalarType.Float64, 8),
        new("float16", "HalfStorage", "F16", ScalarType.Float16, 2),
        new("bfloat16", "BFloat16Storage", "BF16", ScalarType.BFloat16, 2),
        new("int64", "LongStorage", "I64", ScalarType.Int64, 8),
        new("int32", "IntStorage", "I32", ScalarType.Int32, 4),
        new("int16", "ShortStorage", "I16", ScalarType.Int16, 2),
        new("int8", "CharStorage", "I8", ScalarType.Int8, 1),
        new("uint8", "ByteStorage", "U8", ScalarType.Byte, 1),
        new("bool", "BoolStorage", "BOOL", ScalarType.Bool, 1),
        new("complex64", "ComplexFloatStorage", "C64", ScalarType.ComplexFloat32, 8),
        new("complex128", "ComplexDoubleStorage", "C128", ScalarType.ComplexFloat64, 16),
    ];

    static readonly Dictionary<string, TorchDType> ByStorageClass = All.ToDictionary(d => d.StorageClass);
    static readonly Dictionary<string, TorchDType> ByName = All.ToDictionary(d => d.Name);
    static readonly Dictionary<string, TorchDType> BySafeTensorsName = All.ToDictionary(d => d.SafeTensorsName);
    static readonly Dictionary<ScalarType, TorchDType> ByScalarType = All.ToDictionary(d => d.ScalarType);

    /// <summary>Bytes, as saved by torch.UntypedStorage.</summary>
    public static readonly TorchDType Untyped = ByName["uint8"];

    public static TorchDType? FromStorageClass(string storageClass) => ByStorageClass.GetValueOrDefault(storageClass);
    public static TorchDType? FromName(string name) => ByName.GetValueOrDefault(name);
    public static TorchDType? FromSafeTensorsName(string name) => BySafeTensorsName.GetValueOrDefault(name);

    public static TorchDType Of(ScalarType type) =>
        ByScalarType.TryGetValue(type, out var d) ? d : throw new NotSupportedException($"tensor type {type} cannot be saved");

    public override string ToString() => Name;
}
