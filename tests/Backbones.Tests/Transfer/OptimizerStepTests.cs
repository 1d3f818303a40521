using System.Text.Json;
using Backbones.Models;
using Backbones.Serialization;
using Backbones.Tests.Support;
using Backbones.Transfer;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Tests.Transfer;

/// <summary>
/// Optimizers built from parameter groups update exactly what they should: frozen and learning-rate-0 tensors stay
/// bit-identical, everything else moves, weight decay applies only where the group has it, and the steps equal
/// torch.optim's on the same weights, gradients and groups.
/// </summary>
public sealed class OptimizerStepTests
{
    static readonly string[] Frozen = ["layer1"];
    static readonly string[] ZeroRate = ["conv1", "bn1"];

    /// <summary>resnet18 for 10 classes with layer1 frozen, and groups: stem at lr 0 (with decay), head at 10× lr.</summary>
    static (Backbone Model, ParameterGroupSet Groups) Setup()
    {
        manual_seed(7);
        var model = ModelZoo.Create("resnet18", new ModelOptions { NumClasses = 10 });
        model.train();
        model.Freeze(Frozen);
        var groups = ParameterGroups.For(model)
            .Add("stem", ZeroRate, lr: 0, weightDecay: 0.1)
            .Add("head", "fc", lr: 0.1)
            .NoWeightDecayOnBiasAndNorm()
            .Build(0.01, weightDecay: 1e-2);
        return (model, groups);
    }

    static Dictionary<string, Tensor> Snapshot(nn.Module model) =>
        model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());

    static void Backward(Backbone model)
    {
        using var scope = NewDisposeScope();
        var x = randn(2, 3, 64, 64);
        var y = tensor(new long[] { 3, 8 });
        nn.functional.cross_entropy(model.call(x), y).backward();
    }

    static bool Identical(Tensor a, Tensor b) => Bytes.Of(a).AsSpan().SequenceEqual(Bytes.Of(b));

    static bool Under(string key, string[] paths) => paths.Any(p => key.StartsWith(p + "."));

    static void AssertOnlyTrainablePartsMoved(Backbone model, Dictionary<string, Tensor> before)
    {
        int moved = 0;
        foreach (var (key, p) in model.named_parameters())
        {
            bool fixedPart = Under(key, Frozen) || Under(key, ZeroRate);
            Assert.True(fixedPart == Identical(p, before[key]), $"{key}: {(fixedPart ? "changed but should not have" : "did not change")}");
            if (!fixedPart) moved++;
        }
        Assert.Equal(62 - 12 - 3, moved);
    }

    [Fact]
    public void SgdWithMomentumAndDecayMovesExactlyTheTrainableParameters()
    {
        var (model, groups) = Setup();
        using var _ = model;
        var before = Snapshot(model);
        using var sgd = optim.SGD(groups.ToSgd(), groups.LearningRate, momentum: 0.9);
        for (int step = 0; step < 2; step++)
        {
            sgd.zero_grad();
            Backward(model);
            sgd.step();
        }
        Assert.All(model.named_parameters().Where(p => Under(p.name, Frozen)), p => Assert.Null(p.parameter.grad));
        Assert.NotNull(model.named_parameters().Single(p => p.name == "conv1.weight").parameter.grad);
        AssertOnlyTrainablePartsMoved(model, before);
    }

    [Fact]
    public void AdamWWithDecoupledDecayMovesExactlyTheTrainableParameters()
    {
        var (model, groups) = Setup();
        using var _ = model;
        var before = Snapshot(model);
        using var adamw = optim.AdamW(groups.ToAdamW(), groups.LearningRate);
        for (int step = 0; step < 2; step++)
        {
            adamw.zero_grad();
            Backward(model);
            adamw.step();
        }
        AssertOnlyTrainablePartsMoved(model, before);
    }

    [Fact]
    public void DecaysOnlyTheGroupsWithWeightDecay()
    {
        var (model, groups) = Setup();
        using var _ = model;
        using var sgd = optim.SGD(groups.ToSgd(), groups.LearningRate);
        Backward(model);
        sgd.zero_grad(); // gradients present and zero: any change now is weight decay alone
        var before = Snapshot(model);
        sgd.step();

        int decayed = 0, kept = 0;
        foreach (var g in groups.Groups)
            foreach (var (key, p) in g.Parameters)
            {
                if (g.WeightDecay > 0 && g.LearningRate > 0)
                {
                    // SGD with zero gradient: p ← p − lr·(wd·p)
                    using var expected = before[key].add(before[key].mul(g.WeightDecay), alpha: -g.LearningRate);
                    Assert.False(Identical(p, before[key]), key);
                    Assert.True(p.allclose(expected, rtol: 1e-6, atol: 0), key);
                    decayed++;
                }
                else
                {
                    Assert.True(Identical(p, before[key]), $"{key} in {g.Name} changed");
                    kept++;
                }
            }
        // decayed: the 15 convolution weights of layers 2–4 (downsampling included) and fc.weight; kept: the stem's 3 at
        // lr 0, the 30 BatchNorm weights and biases of layers 2–4 and fc.bias (layer1 is frozen, in no group)
        Assert.Equal((16, 34), (decayed, kept));
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("adamw")]
    public void MatchesTorchOptimOnTheSameGroups(string optimizer)
    {
        PyTorch.Require();
        var (model, groups) = Setup();
        using var _ = model;
        Backward(model);
        string folder = TempFolder.Create("optimizer");
        using (var weights = new StateDict())
        using (var grads = new StateDict())
        {
            foreach (var (key, p) in model.named_parameters())
            {
                weights.Add(key, p.detach().clone());
                if (p.grad is { } grad) grads.Add(key, grad.clone());
            }
            weights.Save(Path.Combine(folder, "weights.pth"));
            grads.Save(Path.Combine(folder, "grads.pth"));
        }
        var config = new
        {
            optimizer,
            lr = groups.LearningRate,
            steps = 2,
            momentum = 0.9,
            groups = groups.Groups.Select(g => new { keys = g.Keys, lr = g.LearningRate, weight_decay = g.WeightDecay }),
        };
        File.WriteAllText(Path.Combine(folder, "config.json"), JsonSerializer.Serialize(config));
        var (code, output, error) = PyTorch.RunScript("optimizer_step.py", folder);
        Assert.True(code == 0, output + error);

        using (var step = optimizer == "sgd" ? (optim.Optimizer)optim.SGD(groups.ToSgd(), groups.LearningRate, momentum: 0.9) : optim.AdamW(groups.ToAdamW(), groups.LearningRate))
            for (int i = 0; i < 2; i++) step.step(); // the same gradients twice, as the script does

        using var after = StateDict.Load(Path.Combine(folder, "after.pth"));
        double worst = 0;
        foreach (var (key, p) in model.named_parameters())
            worst = Math.Max(worst, (p - after[key]).abs().max().item<float>());
        Assert.True(worst <= 1e-6, $"max |ours − torch.optim| = {worst:E2}");
    }
}
