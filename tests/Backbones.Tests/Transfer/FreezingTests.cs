using System.Text.RegularExpressions;
using Backbones.Models;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Tests.Transfer;

/// <summary>Freezing by pattern, first children, all but the head, until a stage: requires_grad, reports and counts.</summary>
public sealed class FreezingTests
{
    static Backbone ResNet18() => ModelZoo.Create("resnet18");

    static HashSet<string> Keys(nn.Module model, Func<string, bool> where) =>
        model.named_parameters().Select(p => p.name).Where(where).ToHashSet();

    static HashSet<string> Trainable(nn.Module model) => Keys(model, _ => true).Where(k => Parameter(model, k).requires_grad).ToHashSet();

    static TorchSharp.Modules.Parameter Parameter(nn.Module model, string key) => model.named_parameters().Single(p => p.name == key).parameter;

    static long Elements(nn.Module model, IEnumerable<string> keys) => keys.Sum(k => Parameter(model, k).numel());

    [Fact]
    public void FreezesByGlobAndReportsTheKeysItChanged()
    {
        using var model = ResNet18();
        var report = model.Freeze("conv1", "layer1.*");

        var expected = Keys(model, k => k.StartsWith("conv1.") || k.StartsWith("layer1."));
        Assert.Equal(6 * 2 + 1, expected.Count); // conv1.weight; layer1: 2 blocks × (2 convs + 2 BatchNorms × 2)
        Assert.Equal(expected, report.Frozen.ToHashSet());
        Assert.Empty(report.Unchanged);
        var all = Keys(model, _ => true);
        Assert.Equal(all.Except(expected).ToHashSet(), Trainable(model));
        Assert.True(Parameter(model, "layer2.0.conv1.weight").requires_grad); // "conv1" is a top-level module, not any conv1

        Assert.Equal(expected.Count, report.Trainable.FrozenTensors);
        Assert.Equal(all.Count - expected.Count, report.Trainable.TrainableTensors);
        Assert.Equal(Elements(model, expected), report.Trainable.FrozenElements);
        Assert.Equal(11_689_512, report.Trainable.TotalElements); // torchvision's resnet18 parameter count
    }

    [Fact]
    public void FreezingTwiceChangesNothingAndSaysSo()
    {
        using var model = ResNet18();
        model.Freeze("fc");
        var again = model.Freeze("fc");
        Assert.Empty(again.Frozen);
        Assert.Equal(["fc.weight", "fc.bias"], again.Unchanged);
        Assert.StartsWith("Freeze(fc): 2 matched tensors already in that state\n", again.ToString());
    }

    [Fact]
    public void UnfreezesByGlob()
    {
        using var model = ResNet18();
        model.Freeze("*");
        Assert.Empty(Trainable(model));
        var report = model.Unfreeze("*.bias");
        var biases = Keys(model, k => k.EndsWith(".bias"));
        Assert.Equal(21, biases.Count); // 20 BatchNorms and fc
        Assert.Equal(biases, report.Unfrozen.ToHashSet());
        Assert.Equal(biases, Trainable(model));
    }

    [Fact]
    public void FreezesByRegex()
    {
        using var model = ResNet18();
        var report = model.Freeze(new Regex(@"^layer[12]\.\d+\.bn\d\."));
        var expected = Keys(model, k => (k.StartsWith("layer1.") || k.StartsWith("layer2.")) && k.Split('.')[2].StartsWith("bn"));
        Assert.Equal(16, expected.Count);
        Assert.Equal(expected, report.Frozen.ToHashSet());
        Assert.True(Parameter(model, "layer2.0.downsample.1.weight").requires_grad);
    }

    [Fact]
    public void RefusesAPatternThatMatchesNothing()
    {
        using var model = ResNet18();
        var e = Assert.Throws<ArgumentException>(() => model.Freeze("fc", "layr1"));
        Assert.Contains("'layr1' matches no parameter", e.Message);
        Assert.Contains("top-level modules: conv1, bn1, relu, maxpool, layer1, layer2, layer3, layer4", e.Message);
        Assert.Equal(62, Trainable(model).Count); // nothing was frozen before the error
        Assert.Throws<ArgumentException>(() => model.Unfreeze(new Regex("^head\\.")));
        Assert.Throws<ArgumentException>(() => model.Freeze());
    }

    [Fact]
    public void FreezesTheFirstParametersInParametersOrder()
    {
        using var model = ResNet18();
        var report = model.FreezeFirstParameters(5);
        Assert.Equal(["conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv1.weight", "layer1.0.bn1.weight"], report.Frozen);
        Assert.Equal(62 - 5, Trainable(model).Count);
        Assert.StartsWith("FreezeFirstParameters(5, through layer1.0.bn1.weight): froze 5 tensors", report.ToString());
        Assert.Throws<ArgumentOutOfRangeException>(() => model.FreezeFirstParameters(63));
    }

    [Fact]
    public void FreezesTheFirstTopLevelChildren()
    {
        using var model = ResNet18();
        var report = model.FreezeFirstChildren(5); // torchvision's children(): conv1, bn1, relu, maxpool, layer1
        var expected = Keys(model, k => k.StartsWith("conv1.") || k.StartsWith("bn1.") || k.StartsWith("layer1."));
        Assert.Equal(expected, report.Frozen.ToHashSet());
        Assert.StartsWith("FreezeFirstChildren(5: conv1, bn1, relu, maxpool, layer1): froze 15 tensors (conv1.weight, bn1.weight, bn1.bias, layer1.0.conv1.weight,", report.ToString());

        using var mlp = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2));
        Assert.Equal(["0.weight", "0.bias"], mlp.FreezeFirstChildren(2).Frozen);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => mlp.FreezeFirstChildren(4));
        Assert.Contains("3 top-level children: 0, 1, 2", e.Message);
    }

    [Theory]
    [InlineData("resnet18", "fc")]
    [InlineData("vgg11", "classifier.6")]
    [InlineData("densenet121", "classifier")]
    [InlineData("mobilenet_v3_small", "classifier.3")]
    public void FreezesAllButTheClassifier(string name, string head)
    {
        using var model = ModelZoo.Create(name);
        var report = model.FreezeAllButHead();
        Assert.Equal(new HashSet<string> { head + ".weight", head + ".bias" }, Trainable(model));
        Assert.Equal(2, report.Trainable.TrainableTensors);
        Assert.Equal(Parameter(model, head + ".weight").shape[1] * 1000 + 1000, report.Trainable.TrainableElements);
    }

    [Fact]
    public void FreezesAllButTheLastChildWithParametersOfAPlainModule()
    {
        using var mlp = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2), nn.Softmax(1));
        var report = mlp.FreezeAllButHead();
        Assert.Equal(["0.weight", "0.bias"], report.Frozen);
        Assert.Equal(new HashSet<string> { "2.weight", "2.bias" }, Trainable(mlp));
        Assert.Equal("FreezeAllButHead(head 2): froze 2 tensors (0.weight, 0.bias)\ntrainable: 18 of 58 parameters (31.03 %) in 2 of 4 tensors", report.ToString());
    }

    [Fact]
    public void FreezesEverythingRegisteredBeforeAStage()
    {
        using var model = ResNet18();
        var report = model.FreezeUntil("layer3");
        var expected = Keys(model, k => k.StartsWith("conv1.") || k.StartsWith("bn1.") || k.StartsWith("layer1.") || k.StartsWith("layer2."));
        Assert.Equal(expected, report.Frozen.ToHashSet());
        Assert.Equal(Keys(model, _ => true).Except(expected).ToHashSet(), Trainable(model));

        // A nested path: layer3's first block is registered before layer3.1.
        using var other = ResNet18();
        var nested = other.FreezeUntil("layer3.1");
        Assert.Equal(expected.Count + Keys(other, k => k.StartsWith("layer3.0.")).Count, nested.Frozen.Count);
        Assert.Contains("layer3.0.downsample.1.bias", nested.Frozen);
        Assert.DoesNotContain("layer3.1.conv1.weight", nested.Frozen);

        var e = Assert.Throws<ArgumentException>(() => other.FreezeUntil("layer5"));
        Assert.Contains("no module 'layer5'", e.Message);
    }

    [Fact]
    public void SummarisesAnyModule()
    {
        using var linear = nn.Linear(3, 4);
        linear.weight!.requires_grad = false;
        var summary = TrainableSummary.Of(linear);
        Assert.Equal(new TrainableSummary(1, 1, 4, 12, 0), summary);
        Assert.Equal("trainable: 4 of 16 parameters (25.00 %) in 1 of 2 tensors", summary.ToString());
    }
}
