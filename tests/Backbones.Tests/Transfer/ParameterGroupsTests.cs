using System.Text.RegularExpressions;
using Backbones.Models;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Tests.Transfer;

/// <summary>Parameter groups: membership, learning rates and weight decay per group, the frozen part, the report.</summary>
public sealed class ParameterGroupsTests
{
    static ParameterGroup Group(ParameterGroupSet set, string name) => set.Groups.Single(g => g.Name == name);

    [Fact]
    public void PutsEveryTrainableParameterInExactlyOneGroup()
    {
        using var model = ModelZoo.Create("resnet18");
        model.Freeze("conv1", "bn1");
        var set = ParameterGroups.For(model)
            .Add("late", "layer4", lr: 1e-3)
            .Add("block", "layer4.1.*", lr: 5.0)        // layer4 took these first: an empty group, dropped
            .Add("head", "fc.*", lr: 1e-2, weightDecay: 0)
            .Add("norms", new Regex(@"\.bn\d\."), weightDecay: 0.5)
            .NoWeightDecayOnBiasAndNorm()
            .Build(0.1, weightDecay: 1e-4);

        Assert.Equal(["late", "late/no_decay", "head", "norms/no_decay", "default", "default/no_decay"], set.Groups.Select(g => g.Name));
        Assert.Equal(["conv1.weight", "bn1.weight", "bn1.bias"], set.ExcludedFrozen);

        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).ToList();
        var grouped = set.Groups.SelectMany(g => g.Keys).ToList();
        Assert.Equal(trainable.Count, grouped.Count);
        Assert.Equal(trainable.ToHashSet(), grouped.ToHashSet());

        Assert.Equal((1e-3, 1e-4), (Group(set, "late").LearningRate, Group(set, "late").WeightDecay));
        Assert.Equal((1e-3, 0.0), (Group(set, "late/no_decay").LearningRate, Group(set, "late/no_decay").WeightDecay));
        Assert.Equal((1e-2, 0.0), (Group(set, "head").LearningRate, Group(set, "head").WeightDecay));
        Assert.Equal((0.1, 1e-4), (Group(set, "default").LearningRate, Group(set, "default").WeightDecay));
        Assert.Equal(["fc.weight", "fc.bias"], Group(set, "head").Keys);
        Assert.All(grouped.Where(k => k.StartsWith("layer4.")), k => Assert.StartsWith("late", set.Groups.Single(g => g.Keys.Contains(k)).Name));
        // BatchNorm weights outside layer4 match "norms" but are 1-D: no decay, whatever the group asked.
        Assert.Contains("layer1.0.bn1.weight", Group(set, "norms/no_decay").Keys);
        Assert.Contains("layer2.0.downsample.1.weight", Group(set, "default/no_decay").Keys);
        foreach (var g in set.Groups)
            foreach (var (key, p) in g.Parameters)
                Assert.True(g.Name.EndsWith("/no_decay") || g.WeightDecay == 0 ? p.dim() == 1 || g.Name == "head" : p.dim() > 1, $"{key} in {g.Name}");
    }

    [Fact]
    public void KeepsFrozenParametersAtLearningRateZeroWhenAsked()
    {
        using var model = ModelZoo.Create("resnet18");
        model.FreezeUntil("layer1");
        var set = ParameterGroups.For(model).FrozenAtZeroLearningRate().NoWeightDecayOnBiasAndNorm().Build(0.1, 1e-4);
        Assert.Equal(["default", "default/no_decay", "frozen"], set.Groups.Select(g => g.Name));
        var frozen = Group(set, "frozen");
        Assert.Equal((0.0, 0.0), (frozen.LearningRate, frozen.WeightDecay));
        Assert.Equal(["conv1.weight", "bn1.weight", "bn1.bias"], frozen.Keys);
        Assert.Empty(set.ExcludedFrozen);
        Assert.Equal(62, set.Groups.Sum(g => g.Parameters.Count));
    }

    [Fact]
    public void ReportsEachGroup()
    {
        using var net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2));
        var set = ParameterGroups.For(net).Add("head", "2", lr: 0.01).NoWeightDecayOnBiasAndNorm().Build(0.1, 1e-4);
        Assert.Equal(
            "group                      lr weight decay  tensors       elements\n" +
            "head                     0.01       0.0001        1              6\n" +
            "head/no_decay            0.01            0        1              2\n" +
            "default                   0.1       0.0001        1             12\n" +
            "default/no_decay          0.1            0        3              9\n" +
            "4 groups, 6 tensors, 29 elements",
            set.ToString().ReplaceLineEndings("\n"));
        Assert.Equal("head: lr 0.01, weight decay 0.0001, 1 tensors, 6 elements", set.Groups[0].ToString());
    }

    [Fact]
    public void DecaysLearningRatesLayerByLayer()
    {
        using var model = ModelZoo.Create("resnet50");
        var set = ParameterGroups.For(model).LayerDecay(0.5).NoWeightDecayOnBiasAndNorm().Build(1.0, 0.05);
        string[] stages = ["stem", "layer1", "layer2", "layer3", "layer4", "head"];
        Assert.Equal(stages.SelectMany(s => new[] { s, s + "/no_decay" }), set.Groups.Select(g => g.Name));
        // lr = base × decay^(5 − stage): 1/32 for the stem up to 1 for the head
        Assert.Equal([0.03125, 0.0625, 0.125, 0.25, 0.5, 1.0], stages.Select(s => Group(set, s).LearningRate));
        Assert.Equal(Group(set, "layer2").LearningRate, Group(set, "layer2/no_decay").LearningRate);
        Assert.Equal(["conv1.weight"], Group(set, "stem").Keys);
        Assert.Equal(["bn1.weight", "bn1.bias"], Group(set, "stem/no_decay").Keys);
        Assert.Contains("layer3.5.conv2.weight", Group(set, "layer3").Keys);
        Assert.Equal(["fc.weight"], Group(set, "head").Keys);
        Assert.Equal(["fc.bias"], Group(set, "head/no_decay").Keys);

        // An added group takes its parameters out of the stages.
        var withHead = ParameterGroups.For(model).Add("classifier", "fc", lr: 3.0).LayerDecay(0.5).Build(1.0);
        Assert.Equal(["classifier", "stem", "layer1", "layer2", "layer3", "layer4"], withHead.Groups.Select(g => g.Name));
    }

    [Fact]
    public void RefusesBadGroups()
    {
        using var model = ModelZoo.Create("resnet18");
        Assert.Contains("'typo': layr4 matches no parameter", Assert.Throws<ArgumentException>(() => ParameterGroups.For(model).Add("typo", "layr4").Build(0.1)).Message);
        Assert.Throws<ArgumentException>(() => ParameterGroups.For(model).Add("a", "fc").Add("a", "layer1"));
        Assert.Throws<ArgumentException>(() => ParameterGroups.For(model).Add("default", "fc"));
        Assert.Throws<ArgumentOutOfRangeException>(() => ParameterGroups.For(model).Add("a", "fc", lr: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => ParameterGroups.For(model).Build(double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => ParameterGroups.For(model).LayerDecay(1.5));
        Assert.Contains("also a stage's name", Assert.Throws<ArgumentException>(() => ParameterGroups.For(model).Add("head", "fc").LayerDecay(0.7).Build(0.1)).Message);
        using var net = nn.Sequential(nn.Linear(2, 2));
        Assert.Contains("pass its StageGroups", Assert.Throws<InvalidOperationException>(() => ParameterGroups.For(net).LayerDecay(0.7).Build(0.1)).Message);
    }
}
