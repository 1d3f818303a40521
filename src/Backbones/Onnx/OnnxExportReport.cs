using System.Text;

namespace Backbones.Onnx;

/// <summary>What an export wrote: the file(s), the operator set, inputs and outputs with their shapes, and the graph's size.</summary>
public sealed record OnnxExportReport(
    string Path,
    long Bytes,
    string? ExternalDataPath,
    long ExternalDataBytes,
    int Opset,
    OnnxValue Input,
    bool DynamicBatch,
    IReadOnlyList<OnnxValue> Outputs,
    int Nodes,
    int Initializers,
    long Parameters,
    int FoldedBatchNorms)
{
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append($"wrote {Path} ({Bytes:N0} bytes");
        if (ExternalDataPath is not null) text.Append($", weights in {ExternalDataPath} ({ExternalDataBytes:N0} bytes)");
        text.AppendLine($"): opset {Opset}, {Nodes} nodes, {Initializers} initializers ({Parameters:N0} values), {FoldedBatchNorms} BatchNorm layers folded");
        text.AppendLine($"  input  {Shape(Input)}");
        foreach (var output in Outputs) text.AppendLine($"  output {Shape(output)}");
        return text.ToString().TrimEnd();
    }

    string Shape(OnnxValue value) =>
        $"{value.Name} [{string.Join(", ", value.Shape.Select((d, i) => i == 0 && DynamicBatch ? "batch" : d.ToString()))}]";
}
