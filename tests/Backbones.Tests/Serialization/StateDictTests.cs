using System.Text.RegularExpressions;
using Backbones.Serialization;
using Backbones.Tests.Support;
using static TorchSharp.torch;

namespace Backbones.Tests.Serialization;

/// <summary>The key edits of transfer recipes: prefixes, drops, renames, sub-dictionaries; each reports what it did.</summary>
public sealed class StateDictTests
{
    static StateDict Sample(params string[] keys)
    {
        var sd = new StateDict();
        for (int i = 0; i < keys.Length; i++) sd.Add(keys[i], full(new long[] { i + 1 }, i, ScalarType.Float32));
        return sd;
    }

    [Fact]
    public void StripsDataParallelPrefix()
    {
        using var sd = Sample("module.conv1.weight", "module.fc.bias", "extra");
        var renamed = sd.StripPrefix("module.");
        Assert.Equal(new[] { ("module.conv1.weight", "conv1.weight"), ("module.fc.bias", "fc.bias") }, renamed);
        Assert.Equal(new[] { "conv1.weight", "fc.bias", "extra" }, sd.Keys);
    }

    [Fact]
    public void AddsPrefixAndKeepsOrder()
    {
        using var sd = Sample("a", "b");
        sd.AddPrefix("backbone.");
        Assert.Equal(new[] { "backbone.a", "backbone.b" }, sd.Keys);
    }

    [Fact]
    public void DropsByGlobAndRegex()
    {
        using var sd = Sample("conv1.weight", "fc.weight", "fc.bias", "bn1.num_batches_tracked");
        Assert.Equal(new[] { "fc.weight", "fc.bias" }, sd.DropGlob("fc.*"));
        Assert.Equal(new[] { "bn1.num_batches_tracked" }, sd.Drop(new Regex(@"num_batches_tracked$")));
        Assert.Equal(new[] { "conv1.weight" }, sd.Keys);
    }

    [Fact]
    public void RenamesByRegexAndRefusesCollisions()
    {
        using var sd = Sample("features.0.weight", "features.1.weight", "classifier.weight");
        var renamed = sd.Rename(new Regex(@"^features\.(\d+)"), "stem.$1");
        Assert.Equal(2, renamed.Count);
        Assert.Equal(new[] { "stem.0.weight", "stem.1.weight", "classifier.weight" }, sd.Keys);
        var e = Assert.Throws<InvalidOperationException>(() => sd.Rename(new Regex(@"^stem\.\d+"), "stem"));
        Assert.Contains("'stem.weight'", e.Message);
        Assert.Equal(new[] { "stem.0.weight", "stem.1.weight", "classifier.weight" }, sd.Keys); // unchanged
    }

    [Fact]
    public void KeepsASubDictionary()
    {
        using var sd = Sample("backbone.conv.weight", "backbone.conv.bias", "head.weight");
        Assert.Equal(new[] { "head.weight" }, sd.KeepPrefix("backbone"));
        Assert.Equal(new[] { "conv.weight", "conv.bias" }, sd.Keys);
    }

    [Fact]
    public void CountsElementsAndParameters()
    {
        using var sd = Sample("conv.weight", "bn.weight", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked");
        Assert.Equal(1 + 2 + 3 + 4 + 5, sd.CountElements());
        Assert.Equal(1 + 2, sd.CountParameters());
    }

    [Fact]
    public void SelectsTheStateDictInsideAWrappedCheckpoint()
    {
        PyTorch.Require();
        using var sd = StateDict.Load(ReferenceFiles.Path("wrapped.pth"));
        Assert.Equal(KeysUnder("state_dict."), sd.Keys);
        using var momentum = StateDict.Load(ReferenceFiles.Path("wrapped.pth"), select: "optimizer.state");
        Assert.Equal(KeysUnder("optimizer.state."), momentum.Keys);
        Assert.Contains("0.momentum_buffer", momentum.Keys);
    }

    static IEnumerable<string> KeysUnder(string prefix) =>
        ReferenceFiles.Manifest("wrapped.pth").GetProperty("tensors").EnumerateObject()
            .Select(p => p.Name).Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).Select(n => n[prefix.Length..]);
}
