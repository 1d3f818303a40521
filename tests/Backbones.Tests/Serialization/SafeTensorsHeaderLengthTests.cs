using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using static TorchSharp.torch;

namespace Backbones.Tests.Serialization;

/// <summary>A safetensors file is recognised whatever its header length, including one whose first byte is a pickle's 0x80.</summary>
public class SafeTensorsHeaderLengthTests
{
    [Fact]
    public void ReadsSafeTensorsWhoseHeaderLengthStartsWithPickleMagic()
    {
        string folder = TempFolder.Create("st-0x80");
        using var value = arange(6, dtype: ScalarType.Float32).view(2, 3);
        // The header grows with the metadata, 8 bytes at a time: some padding lands its length's low byte on 0x80.
        for (int pad = 0; pad < 256; pad++)
        {
            string path = Path.Combine(folder, $"pad{pad}.safetensors");
            Checkpoint.Save(path, new PyDict { Ordered = true, ["x"] = value }, CheckpointFormat.SafeTensors,
                new Dictionary<string, string> { ["pad"] = new string('p', pad) });
            if (File.ReadAllBytes(path)[0] != 0x80) continue;
            using var loaded = Checkpoint.Load(path);
            Assert.Equal(CheckpointFormat.SafeTensors, loaded.Format);
            Assert.Equal(value.data<float>().ToArray(), ((Tensor)((PyDict)loaded.Root!)["x"]!).data<float>().ToArray());
            return;
        }
        Assert.Fail("no padding gave a header length with low byte 0x80");
    }
}
