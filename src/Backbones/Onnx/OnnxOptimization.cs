namespace Backbones.Onnx;

/// <summary>ONNX Runtime's graph optimisation levels (fusions, constant folding, layout changes), from none to all.</summary>
public enum OnnxOptimization
{
    Disabled,
    Basic,
    Extended,
    All,
}
