using Backbones.Models;
using Backbones.Tests.Support;
using Backbones.Transfer;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Tests.Transfer;

/// <summary>Frozen BatchNorms keep their statistics and eval behaviour through model.train(); the others still learn.</summary>
public sealed class BatchNormFreezingTests
{
    /// <summary>resnet18 with running statistics far from a batch's, so train-mode and eval-mode outputs differ.</summary>
    static Backbone ResNet18()
    {
        var model = ModelZoo.Create("resnet18", new ModelOptions { NumClasses = 10 });
        using var _ = no_grad();
        foreach (var (_, bn) in Norms(model))
        {
            bn.running_mean!.copy_(randn(bn.running_mean.shape) * 0.5);
            bn.running_var!.copy_(rand(bn.running_var.shape) + 0.5);
        }
        return model;
    }

    static List<(string Path, BatchNorm2d Norm)> Norms(nn.Module model) =>
        model.named_modules().Where(m => m.module is BatchNorm2d).Select(m => (m.name, (BatchNorm2d)m.module)).ToList();

    static Dictionary<string, Tensor[]> Statistics(nn.Module model) =>
        Norms(model).ToDictionary(n => n.Path, n => new[] { n.Norm.running_mean!.clone(), n.Norm.running_var!.clone(), n.Norm.num_batches_tracked!.clone() });

    static bool Identical(Tensor a, Tensor b) => Bytes.Of(a).AsSpan().SequenceEqual(Bytes.Of(b));

    static bool Same(BatchNorm2d bn, Tensor[] before) =>
        Identical(bn.running_mean!, before[0]) && Identical(bn.running_var!, before[1]) && Identical(bn.num_batches_tracked!, before[2]);

    static Tensor Forward(nn.Module<Tensor, Tensor> model, Tensor x)
    {
        using var _ = no_grad();
        return model.call(x);
    }

    [Fact]
    public void FreezesBatchNormStatisticsThroughTrainMode()
    {
        using var model = ResNet18();
        using var x = randn(2, 3, 64, 64);
        var report = model.FreezeBatchNorm();
        Assert.Equal(20, report.BatchNormsHeld.Count);
        Assert.Equal(40, report.Frozen.Count);
        Assert.All(Norms(model), n => Assert.False(n.Norm.weight!.requires_grad || n.Norm.bias!.requires_grad));
        Assert.Equal(20, report.Trainable.HeldBatchNorms);

        var before = Statistics(model);
        model.train(); // propagates training = true to every BatchNorm
        using var trained = Forward(model, x);
        Assert.All(Norms(model), n => Assert.True(Same(n.Norm, before[n.Path]), n.Path));
        Assert.True(model.training);

        model.eval();
        using var evaluated = Forward(model, x);
        Assert.True(Identical(trained, evaluated));

        // The same model released: train mode normalises with batch statistics, so the output moves.
        var released = model.UnfreezeBatchNorm();
        Assert.Equal(20, released.BatchNormsReleased.Count);
        Assert.Equal(40, released.Unfrozen.Count);
        model.train();
        using var free = Forward(model, x);
        Assert.False(Identical(free, evaluated));
        Assert.All(Norms(model), n => Assert.False(Same(n.Norm, before[n.Path]), n.Path));
        Assert.All(Norms(model), n => Assert.True(n.Norm.training && n.Norm.weight!.requires_grad));
    }

    [Fact]
    public void HoldsOnlyTheMatchedBatchNorms()
    {
        using var model = ResNet18();
        using var x = randn(2, 3, 64, 64);
        var report = model.FreezeBatchNorm("bn1", "layer1");
        Assert.Equal(["bn1", "layer1.0.bn1", "layer1.0.bn2", "layer1.1.bn1", "layer1.1.bn2"], report.BatchNormsHeld);

        var before = Statistics(model);
        model.train();
        Forward(model, x).Dispose();
        foreach (var (path, bn) in Norms(model))
        {
            bool held = path == "bn1" || path.StartsWith("layer1.");
            Assert.True(held == Same(bn, before[path]), path);
            Assert.Equal(held ? 0 : 1, bn.num_batches_tracked!.item<long>());
        }

        var again = model.FreezeBatchNorm("layer1.0.*");
        Assert.Empty(again.BatchNormsHeld);
        Assert.Equal(4, again.Unchanged.Count);
        Assert.Throws<ArgumentException>(() => model.FreezeBatchNorm("layer9"));
        using var alexnet = ModelZoo.Create("alexnet");
        Assert.Contains("has no BatchNorm", Assert.Throws<ArgumentException>(() => alexnet.FreezeBatchNorm()).Message);
    }

    [Fact]
    public void FreezeUntilHoldsTheBatchNormsOfTheFrozenPartAndUnfreezeReleasesThem()
    {
        using var model = ResNet18();
        using var x = randn(2, 3, 64, 64);
        var report = model.FreezeUntil("layer3", batchNormStatistics: true);
        var frozenPart = Norms(model).Select(n => n.Path).Where(p => p == "bn1" || p.StartsWith("layer1.") || p.StartsWith("layer2.")).ToList();
        Assert.Equal(10, frozenPart.Count);
        Assert.Equal(frozenPart.ToHashSet(), report.BatchNormsHeld.ToHashSet());

        var before = Statistics(model);
        model.train();
        Forward(model, x).Dispose();
        foreach (var (path, bn) in Norms(model)) Assert.True(frozenPart.Contains(path) == Same(bn, before[path]), path);

        var unfrozen = model.Unfreeze("layer2");
        Assert.Equal(["layer2.0.bn1", "layer2.0.bn2", "layer2.0.downsample.1", "layer2.1.bn1", "layer2.1.bn2"], unfrozen.BatchNormsReleased);
        Assert.Equal(5, unfrozen.Trainable.HeldBatchNorms);
        Assert.Contains("released 5 BatchNorms", unfrozen.ToString());
    }
}
