using Backbones.Models;
using Backbones.Onnx;
using Backbones.Tests.Support;
using static TorchSharp.torch;

namespace Backbones.Tests.Onnx;

/// <summary>
/// Models over protobuf's 2 GB limit keep their weights in an external data file; tested with a small forced threshold
/// instead of a 2 GB model: the file layout as ONNX specifies it, and ONNX Runtime's numbers (onnx's checker: OnnxCheckerTests).
/// </summary>
public sealed class ExternalDataTests
{
    const long Threshold = 64 << 10;

    [Fact]
    public void LargeInitializersGoToTheDataFile()
    {
        using var scope = NewDisposeScope();
        manual_seed(30);
        using var model = ModelZoo.Create("resnet18");
        OnnxTestSupport.RandomiseBatchNorm(model, 30);
        string folder = TempFolder.Create("onnx-external");
        string path = Path.Combine(folder, "resnet18.onnx");
        var report = OnnxExporter.Export(model, path, new OnnxExportOptions { InputShape = [3, 64, 64], ExternalDataThreshold = Threshold });
        Assert.Equal(path + ".data", report.ExternalDataPath);
        long weightBytes = report.Parameters * sizeof(float);
        Assert.True(report.ExternalDataBytes > 0.95 * weightBytes, $"the data file holds {report.ExternalDataBytes} of {weightBytes} weight bytes");
        Assert.True(report.Bytes < 0.05 * weightBytes, $"the model file keeps {report.Bytes} bytes");

        var proto = OnnxTestSupport.ReadModel(path);
        long dataLength = new FileInfo(path + ".data").Length;
        Assert.Equal(report.ExternalDataBytes, dataLength);
        int external = 0;
        foreach (var init in proto.Graph.Initializer)
        {
            long bytes = init.Dims.Aggregate(1L, (a, b) => a * b) * 4;
            if (bytes < Threshold)
            {
                Assert.Equal(bytes, init.RawData.Length);
                continue;
            }
            external++;
            Assert.Equal(Backbones.Onnx.Proto.TensorProto.Types.DataLocation.External, init.DataLocation);
            Assert.True(init.RawData.IsEmpty);
            var entries = init.ExternalData.ToDictionary(e => e.Key, e => e.Value);
            Assert.Equal("resnet18.onnx.data", entries["location"]);
            long offset = long.Parse(entries["offset"]), length = long.Parse(entries["length"]);
            Assert.Equal(0, offset % 4096);
            Assert.Equal(bytes, length);
            Assert.True(offset + length <= dataLength);
        }
        Assert.True(external >= 15, $"only {external} initializers went external");

        var input = randn(1, 3, 64, 64);
        var eager = OnnxTestSupport.Eager(model, input, []);
        OnnxTestSupport.AssertClose("external data logits", eager[""], OnnxTestSupport.Run(path, input)["logits"]);
    }

    /// <summary>Exporting again without external data leaves no stale data file behind.</summary>
    [Fact]
    public void InlineExportRemovesAnEarlierDataFile()
    {
        using var model = ModelZoo.Create("squeezenet1_1");
        string path = Path.Combine(TempFolder.Create("onnx-external"), "s.onnx");
        OnnxExporter.Export(model, path, new OnnxExportOptions { InputShape = [3, 64, 64], ExternalDataThreshold = Threshold });
        Assert.True(File.Exists(path + ".data"));
        var report = OnnxExporter.Export(model, path, new OnnxExportOptions { InputShape = [3, 64, 64] });
        Assert.Null(report.ExternalDataPath);
        Assert.False(File.Exists(path + ".data"));
        Assert.All(OnnxTestSupport.ReadModel(path).Graph.Initializer, i => Assert.False(i.RawData.IsEmpty && i.Dims.Count > 0));
    }
}
