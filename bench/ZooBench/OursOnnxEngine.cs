using Backbones.Models;
using Backbones.Onnx;
using Backbones.Runtime;
using Backbones.Serialization;
using Backbones.Transfer;

/// <summary>
/// Our ONNX export of our model (the peer's weights loaded, BatchNorm folded, dynamic batch, opset 17) run by ONNX
/// Runtime with exactly the settings of <see cref="OrtEngine"/>, which runs PyTorch's own export: the two differ only in the graph.
/// </summary>
static class OursOnnxEngine
{
    public static IEngine Create(string name, string weights, float[] input, long[] shape)
    {
        Libtorch.EnsureLoaded();
        string path = Path.ChangeExtension(weights, ".backbones.onnx");
        using (var model = ModelZoo.Create(name))
        {
            using (var state = StateDict.Load(weights)) model.LoadStateDict(state);
            model.eval();
            OnnxExporter.Export(model, path, new OnnxExportOptions { InputShape = [shape[1], shape[2], shape[3]], DynamicBatch = true });
        }
        return new OrtEngine(path, input, shape);
    }
}
