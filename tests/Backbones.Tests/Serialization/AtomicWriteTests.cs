using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using static TorchSharp.torch;

namespace Backbones.Tests.Serialization;

/// <summary>A write that fails part-way leaves the old file as it was and no temporary file behind.</summary>
public sealed class AtomicWriteTests
{
    [Theory]
    [InlineData("model.pth")]
    [InlineData("model.safetensors")]
    public void FailedWriteKeepsTheOldFile(string name)
    {
        string folder = TempFolder.Create("atomic");
        string path = Path.Combine(folder, name);
        File.WriteAllText(path, "the old weights");
        using var scope = NewDisposeScope();
        var dict = new PyDict { Ordered = true };
        dict["ok"] = ones(1000);
        // pth: an object the pickle cannot hold, found while writing; safetensors: a non-tensor entry, refused up front.
        dict["bad"] = name.EndsWith(".pth") ? new object() : "not a tensor";
        Assert.ThrowsAny<Exception>(() => Checkpoint.Save(path, dict));
        Assert.Equal("the old weights", File.ReadAllText(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(folder));
    }

    [Fact]
    public void SuccessfulWriteReplacesTheFileWhole()
    {
        string folder = TempFolder.Create("atomic");
        string path = Path.Combine(folder, "model.pth");
        File.WriteAllText(path, "the old weights");
        using var scope = NewDisposeScope();
        var dict = new PyDict { Ordered = true };
        dict["w"] = arange(5, ScalarType.Int64);
        Checkpoint.Save(path, dict);
        using var back = Checkpoint.Load(path);
        Assert.Equal(new long[] { 0, 1, 2, 3, 4 }, ((Tensor)back.Leaves().Single().Value!).data<long>().ToArray());
        Assert.Equal(new[] { path }, Directory.GetFiles(folder));
    }
}
