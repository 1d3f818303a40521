using Backbones.Models;
using Backbones.Models.Layers;
using Backbones.Serialization;
using Backbones.Transfer;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Backbones.Tests.Transfer;

/// <summary>
/// Custom networks on a backbone's stages: the two recipes of the issue written with StageNetwork, with their exact
/// shapes, the reused stages being the backbone's own modules and tensors, and keys that a backbone checkpoint fits.
/// </summary>
public sealed class SurgeryStageNetworkTests
{
    static readonly string[] ResNetStages = ["maxpool", "layer1", "layer2", "layer3", "layer4"];

    [Fact]
    public void YoloV1OnResNet50StagesGives7By7By30For448Pixels()
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        using var resnet = ModelZoo.Create("resnet50");
        var before = resnet.OrderedStateDict().ToDictionary(kv => kv.Key, kv => (kv.Value.Handle, Sum: kv.Value.sum(ScalarType.Float64).item<double>()));

        // ResNet-50 stages, three dilated bottlenecks, 2×2 average pooling, a 3×3 convolution to 30 channels, NHWC.
        using var yolo = StageNetwork.From(resnet, "conv1", "bn1").Then("relu", ReLU())
            .Reuse(resnet, "maxpool").Reuse(resnet, "layer1").Reuse(resnet, "layer2").Reuse(resnet, "layer3").Reuse(resnet, "layer4")
            .Then("layer5", Sequential(Enumerable.Range(0, 3).Select(_ => (Module<Tensor, Tensor>)new ResNet.Bottleneck(2048, 512, 1, null, 1, 64, dilation: 2))))
            .Then("avgpool", AvgPool2d(2))
            .Then("conv_end", Conv2d(2048, 30, 3, padding: 1))
            .Then("permute", new Permute(0, 2, 3, 1));

        yolo.eval();
        using (no_grad()) Assert.Equal([2L, 7, 7, 30], yolo.call(randn(2, 3, 448, 448)).shape);

        Assert.Same(Child(resnet, "layer4"), Child(yolo, "layer4"));
        var keys = yolo.OrderedStateDict().Select(kv => kv.Key).ToList();
        var reused = keys.Where(before.ContainsKey).ToList();
        Assert.Equal(before.Keys.Where(k => !k.StartsWith("fc.", StringComparison.Ordinal)), reused); // every backbone key but the head, in order
        var state = yolo.OrderedStateDict().ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var key in reused)
            Assert.True(before[key] == (state[key].Handle, state[key].sum(ScalarType.Float64).item<double>()), $"{key} is not the backbone's tensor, unchanged");
        Assert.Equal("layer5.0.conv1.weight", keys[reused.Count]);
        Assert.Equal(["conv_end.weight", "conv_end.bias"], keys.TakeLast(2));

        // A ResNet-50 checkpoint loads into it by key: everything reused is found, only the new parts are missing.
        using var checkpoint = new StateDict();
        foreach (var (key, tensor) in resnet.OrderedStateDict()) checkpoint.Add(key, tensor.detach().clone());
        var report = yolo.LoadStateDict(checkpoint, strict: false);
        Assert.Equal(["fc.weight", "fc.bias"], report.Unexpected);
        Assert.All(report.Missing, k => Assert.True(k.StartsWith("layer5.", StringComparison.Ordinal) || k.StartsWith("conv_end.", StringComparison.Ordinal), k));
        Assert.Equal(reused.Count, report.Loaded.Count);
    }

    [Fact]
    public void PooledResNetFeaturesThroughATransposedConvolutionAMaxPoolAndANewClassifier()
    {
        using var scope = NewDisposeScope();
        using var resnet = ModelZoo.Create("resnet18");
        using var net = StageNetwork.From(resnet, "conv1", "bn1").Then("relu", ReLU())
            .Reuse(resnet, "maxpool").Reuse(resnet, "layer1").Reuse(resnet, "layer2").Reuse(resnet, "layer3").Reuse(resnet, "layer4").Reuse(resnet, "avgpool")
            .Then("up", ConvTranspose2d(512, 256, 4))   // [N, 512, 1, 1] → [N, 256, 4, 4]
            .Then("pool", MaxPool2d(2))                 // → [N, 256, 2, 2]
            .Then("flatten", Flatten())                 // → [N, 1024]
            .Then("classifier", Linear(1024, 10));

        using var capture = FeatureCapture.Attach(net, ["avgpool", "up", "pool", "flatten"]);
        net.eval();
        Tensor logits;
        using (no_grad()) logits = net.call(randn(3, 3, 96, 96));

        Assert.Equal([3L, 10], logits.shape);
        Assert.Equal([3L, 512, 1, 1], capture.Outputs["avgpool"].shape);
        Assert.Equal([3L, 256, 4, 4], capture.Outputs["up"].shape);
        Assert.Equal([3L, 256, 2, 2], capture.Outputs["pool"].shape);
        Assert.Equal([3L, 1024], capture.Outputs["flatten"].shape);
        Assert.Equal(
            ["conv1: Conv2d(3, 64, kernel 7×7, stride 2×2), 9,408 parameters, reused from conv1", "bn1: BatchNorm2d, 128 parameters, reused from bn1",
             "relu: ReLU, 0 parameters, new", "maxpool: MaxPool2d, 0 parameters, reused from maxpool"],
            net.Steps.Take(4).Select(s => s.ToString()));
        Assert.Equal("classifier: Linear(1024, 10), 10,250 parameters, new", net.Steps[^1].ToString());
    }

    [Fact]
    public void NamesNestedPathsWithUnderscoresAndRefusesRepeats()
    {
        using var resnet = ModelZoo.Create("resnet18");
        using var net = StageNetwork.From(resnet, "layer1.0", "layer1.1");

        Assert.Equal(["layer1_0", "layer1_1"], net.named_children().Select(c => c.name));
        Assert.StartsWith("layer1_0.conv1.weight", net.OrderedStateDict()[0].Key);
        Assert.Contains("already in the network", Assert.Throws<ArgumentException>(() => net.Reuse(resnet, "layer1.0", "again")).Message);
        Assert.Contains("already has a child named 'layer1_1'", Assert.Throws<ArgumentException>(() => net.Then("layer1_1", Identity())).Message);
        Assert.Contains("no module 'layer9'", Assert.Throws<ArgumentException>(() => net.Reuse(resnet, "layer9")).Message);
    }

    static nn.Module Child(nn.Module model, string name) => model.named_children().Single(c => c.name == name).module;
}
