using Backbones.Detection;
using Backbones.Models;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using Backbones.Transfer;
using static TorchSharp.torch;

namespace Backbones.Tests.Detection;

/// <summary>ResNetFpn against torchvision's resnet_fpn_backbone: keys, trainable_layers, each pyramid level on the same weights.</summary>
public sealed class ResNetFpnTests
{
    sealed record Reference(string Folder, Checkpoint Io) : IDisposable
    {
        public PyDict Root => (PyDict)Io.Root!;
        public string File(string name) => Path.Combine(Folder, name);
        public void Dispose() => Io.Dispose();
    }

    static Reference Make(string model, int trainable, int[] returned, int size)
    {
        string folder = TempFolder.Create("fpn");
        var (code, output, error) = PyTorch.RunScript("fpn_reference.py", "fpn", folder, "--model", model, "--trainable", trainable.ToString(),
            "--returned", string.Join(",", returned), "--size", size.ToString());
        Assert.True(code == 0, output + error);
        return new Reference(folder, Checkpoint.Load(Path.Combine(folder, "fpn.io.pth")));
    }

    static void AssertKeysAndGradients(BackboneWithFpn net, PyDict root, int trainable)
    {
        var expectedKeys = ((List<object?>)root["keys"]!).Cast<List<object?>>()
            .Select(k => $"{k[0]} {k[1]} [{string.Join(", ", ((List<object?>)k[2]!).Cast<long>())}]").ToList();
        var ourKeys = net.OrderedStateDict().Select(kv => $"{kv.Key} {TorchDType.Of(kv.Value.dtype).Name} [{string.Join(", ", kv.Value.shape)}]").ToList();
        Assert.Equal(expectedKeys, ourKeys);
        var expectedGrad = ((PyDict)((PyDict)root["requires_grad"]!)[trainable.ToString()]!).Select(kv => $"{kv.Key} {kv.Value}").ToList();
        var ourGrad = net.named_parameters().Select(p => $"{p.name} {p.parameter.requires_grad}").ToList();
        Assert.Equal(expectedGrad, ourGrad);
    }

    static void AssertOutputs(string what, BackboneWithFpn net, PyDict root)
    {
        net.eval();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var levels = net.call((Tensor)root["input"]!);
        Assert.Equal(((List<object?>)root["names"]!).Cast<string>(), levels.Keys);
        foreach (var (name, expected) in (PyDict)root["outputs"]!)
        {
            Assert.Equal(256, levels[(string)name].shape[1]);
            ModelParity.AssertClose($"{what} level {name}", (Tensor)expected!, levels[(string)name]);
        }
    }

    [Fact]
    public void Resnet50FpnMatchesTorchvision()
    {
        using var reference = Make("resnet50", 3, [1, 2, 3, 4], 64);
        using var net = ResNetFpn.Create("resnet50");
        AssertKeysAndGradients(net, reference.Root, 3);
        using var weights = StateDict.Load(reference.File("fpn.weights.pth"));
        Assert.True(net.LoadStateDict(weights, strict: true).IsComplete);
        AssertOutputs("resnet50 fpn", net, reference.Root);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(5)]
    public void TrainableLayersFreezeAsTorchvision(int trainable)
    {
        using var reference = Make("resnet18", 3, [1, 2, 3, 4], 64);
        using var net = ResNetFpn.Create("resnet18", new ResNetFpnOptions { TrainableLayers = trainable });
        AssertKeysAndGradients(net, reference.Root, trainable);
        var report = net.Freezing!;
        Assert.Equal(net.named_parameters().Count(p => p.name.StartsWith("body.") && !p.parameter.requires_grad), report.Frozen.Count);
        Assert.All(report.Frozen, name => Assert.StartsWith("body.", name));
        Assert.Equal(net.named_parameters().Count(p => !p.parameter.requires_grad), report.Trainable.FrozenTensors);
    }

    [Fact]
    public void Resnet18WithThreeReturnedLayersDropsLayer4AndMatchesTorchvision()
    {
        using var reference = Make("resnet18", 5, [1, 2, 3], 64);
        using var net = ResNetFpn.Create("resnet18", new ResNetFpnOptions { TrainableLayers = 5, ReturnedLayers = [1, 2, 3] });
        AssertKeysAndGradients(net, reference.Root, 5);
        Assert.DoesNotContain(net.named_modules(), m => m.name.StartsWith("body.layer4"));
        Assert.Equal(["0", "1", "2", "pool"], ((List<object?>)reference.Root["names"]!).Cast<string>());
        using var weights = StateDict.Load(reference.File("fpn.weights.pth"));
        net.LoadStateDict(weights, strict: true);
        AssertOutputs("resnet18 fpn [1,2,3]", net, reference.Root);
    }

    [Fact]
    public void LoadsAPlainResNetCheckpointIntoTheBodySkippingBatchCounters()
    {
        using var reference = Make("resnet18", 3, [1, 2, 3, 4], 64);
        using var net = ResNetFpn.Create("resnet18", new ResNetFpnOptions { Weights = reference.File("resnet.weights.pth") });
        var loaded = net.BackboneWeights!.Report;
        // The file is torchvision's resnet18 with BatchNorm2d: every counter is skipped (FrozenBatchNorm2d keeps none), the head is loaded then dropped.
        Assert.Equal(20, loaded.Skipped.Count);
        Assert.All(loaded.Skipped, s => Assert.EndsWith(".num_batches_tracked", s.FileKey));
        Assert.Empty(loaded.Unexpected);
        Assert.Empty(loaded.Missing);
        using var fpnOnly = StateDict.Load(reference.File("fpn.weights.pth"));
        fpnOnly.KeepPrefix("fpn.");
        fpnOnly.AddPrefix("fpn.");
        var report = net.LoadStateDict(fpnOnly, strict: false);
        Assert.All(report.Missing, k => Assert.StartsWith("body.", k));
        AssertOutputs("resnet18 fpn from a resnet checkpoint", net, reference.Root);
    }

    [Fact]
    public void RenamesPreVersion2FpnKeysAsTorchvisionDoes()
    {
        using var reference = Make("resnet18", 3, [1, 2, 3, 4], 64);
        using var net = ResNetFpn.Create("resnet18");
        using var legacy = StateDict.Load(reference.File("fpn_legacy.weights.pth"));
        Assert.True(legacy.ContainsKey("fpn.inner_blocks.0.weight"));
        var renames = net.RemapCheckpointKeys(legacy);
        Assert.Equal(16, renames.Count);
        Assert.Contains(("fpn.layer_blocks.3.bias", "fpn.layer_blocks.3.0.bias"), renames);
        net.LoadStateDict(legacy, strict: true);
        AssertOutputs("resnet18 fpn legacy keys", net, reference.Root);

        using var current = StateDict.Load(reference.File("fpn.weights.pth"));
        Assert.Empty(net.RemapCheckpointKeys(current));
    }

    [Fact]
    public void RefusesBadOptionsNamingThem()
    {
        var trainable = Assert.Throws<ArgumentOutOfRangeException>(() => ResNetFpn.Create("resnet18", new ResNetFpnOptions { TrainableLayers = 6 }));
        Assert.Contains("0–5", trainable.Message);
        var returned = Assert.Throws<ArgumentOutOfRangeException>(() => ResNetFpn.Create("resnet18", new ResNetFpnOptions { ReturnedLayers = [0, 1] }));
        Assert.Contains("1–4", returned.Message);
        var family = Assert.Throws<ArgumentException>(() => ResNetFpn.Create("vgg16"));
        Assert.Contains("'vgg16' is not a ResNet", family.Message);
        var norm = Assert.Throws<ArgumentException>(() => ModelZoo.Create("mobilenet_v2", new ModelOptions { NormLayer = c => new FrozenBatchNorm2d(c) }));
        Assert.Contains("NormLayer", norm.Message);
    }
}
