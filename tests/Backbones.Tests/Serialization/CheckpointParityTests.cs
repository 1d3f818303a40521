using System.Text.Json;
using Backbones.Serialization;
using Backbones.Tests.Support;
using static TorchSharp.torch;

namespace Backbones.Tests.Serialization;

/// <summary>Files written by real PyTorch load with exactly the keys, dtypes, shapes, strides, values and sharing PyTorch recorded.</summary>
public sealed class CheckpointParityTests
{
    public static TheoryData<string> Files => new(ReferenceFiles.Readable);

    [Theory]
    [MemberData(nameof(Files))]
    public void LoadsEveryTensorExactlyAsPyTorchWroteIt(string name)
    {
        PyTorch.Require();
        var manifest = ReferenceFiles.Manifest(name);
        using var checkpoint = Checkpoint.Load(ReferenceFiles.Path(name));
        var leaves = checkpoint.Leaves().ToDictionary(l => l.Key, l => l.Value);

        var expectedTensors = manifest.GetProperty("tensors").EnumerateObject().ToList();
        var expectedValues = manifest.GetProperty("values").EnumerateObject().ToList();
        Assert.Equal(expectedTensors.Select(p => p.Name).Concat(expectedValues.Select(p => p.Name)).Order(), leaves.Keys.Order());
        Assert.Equal(ExpectedFormat(manifest.GetProperty("format").GetString()!), checkpoint.Format);

        foreach (var p in expectedTensors)
        {
            var t = Assert.IsType<Tensor>(leaves[p.Name]);
            var e = p.Value;
            Assert.Equal(e.GetProperty("dtype").GetString(), TorchDType.Of(t.dtype).Name);
            Assert.Equal(Longs(e.GetProperty("shape")), t.shape);
            Assert.Equal(Longs(e.GetProperty("stride")), t.stride());
            // The tar format counts offsets from a storage view's start; ours from the root storage.
            if (checkpoint.Format != CheckpointFormat.PthLegacyTar)
                Assert.Equal(e.GetProperty("storage_offset").GetInt64(), t.storage_offset());
            byte[] expected = File.ReadAllBytes(Path.Combine(ReferenceFiles.Folder, e.GetProperty("bytes").GetString()!));
            Assert.True(expected.AsSpan().SequenceEqual(Bytes.Of(t)), $"{name}: values of '{p.Name}' differ from PyTorch's");
        }

        foreach (var p in expectedValues)
            Assert.Equal(Plain(p.Value), leaves[p.Name]);

        foreach (var group in manifest.GetProperty("shared_storage_groups").EnumerateArray())
        {
            var pointers = group.EnumerateArray().Select(k => StoragePointerOf((Tensor)leaves[k.GetString()!]!)).Distinct().ToList();
            Assert.Single(pointers);
        }
        // Tensors PyTorch kept apart stay apart: as many distinct storages as PyTorch had.
        var grouped = manifest.GetProperty("shared_storage_groups").EnumerateArray().SelectMany(g => g.EnumerateArray().Select(k => k.GetString())).ToHashSet();
        var loners = expectedTensors.Where(p => !grouped.Contains(p.Name) && p.Value.GetProperty("shape").EnumerateArray().All(d => d.GetInt64() > 0))
            .Select(p => StoragePointerOf((Tensor)leaves[p.Name]!)).ToList();
        Assert.Equal(loners.Count, loners.Distinct().Count());
    }

    [Fact]
    public void KeepsTheStateDictMetadataPyTorchAttaches()
    {
        PyTorch.Require();
        using var state = StateDict.Load(ReferenceFiles.Path("resnet18_zip.pth"));
        var meta = ReferenceFiles.Manifest("resnet18_zip.pth").GetProperty("metadata").GetProperty("");
        Assert.NotNull(state.Metadata);
        Assert.Equal(meta.EnumerateObject().Select(p => p.Name), state.Metadata!.Keys.Cast<string>());
        var layer = (Backbones.Serialization.Pickle.PyDict)state.Metadata["layer1.0.bn1"]!;
        Assert.Equal(meta.GetProperty("layer1.0.bn1").GetProperty("version").GetInt64(), layer["version"]);
    }

    [Fact]
    public void CountsResNet18ParametersAsTorchvisionQuotesThem()
    {
        PyTorch.Require();
        using var state = StateDict.Load(ReferenceFiles.Path("resnet18_zip.pth"));
        Assert.Equal(SharedData.NumParams("ResNet18_Weights", "IMAGENET1K_V1"), state.CountParameters());
    }

    static CheckpointFormat ExpectedFormat(string spelled) => spelled switch
    {
        "pth-zip" => CheckpointFormat.PthZip,
        "pth-legacy" => CheckpointFormat.PthLegacy,
        "pth-tar" => CheckpointFormat.PthLegacyTar,
        _ => throw new ArgumentException(spelled),
    };

    static IntPtr StoragePointerOf(Tensor t) => Backbones.Serialization.TensorMemory.StoragePointer(t);

    internal static long[] Longs(JsonElement array) => array.EnumerateArray().Select(v => v.GetInt64()).ToArray();

    internal static object? Plain(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => v.GetString(),
        JsonValueKind.Number when v.TryGetInt64(out var l) && !v.GetRawText().Contains('.') => l,
        JsonValueKind.Number => v.GetDouble(),
        _ => throw new ArgumentException($"unexpected manifest value {v}"),
    };
}
