using Backbones.Detection;
using static TorchSharp.torch;

namespace Backbones.Tests.Detection;

/// <summary>
/// BalancedPositiveNegativeSampler against torchvision's (tests/reference/box_ops_reference.py): counts and
/// membership always, and, since libtorch's randperm draws what PyTorch's draws from the same seed, the same masks.
/// </summary>
public class BalancedPositiveNegativeSamplerTests
{
    [Fact]
    public void DrawsTorchvisionsSamplesFromTheSameSeed()
    {
        var (cases, reference) = BoxOpsReference.Load("box_ops_reference.py", "box_ops");
        using var _ = reference;
        using var scope = NewDisposeScope();
        int count = 0;
        foreach (var (name, c, T) in BoxOpsTests.Cases("sample", cases, reference))
        {
            int batch = c.GetProperty("batch_size").GetInt32(), images = c.GetProperty("images").GetInt32();
            double fraction = c.GetProperty("positive_fraction").GetDouble();
            var matched = Enumerable.Range(0, images).Select(i => T($"matched/{i}")).ToList();
            var sampler = new BalancedPositiveNegativeSampler(batch, fraction);
            var (positive, negative) = sampler.Sample(matched, new Generator((ulong)c.GetProperty("seed").GetInt32()));
            for (int i = 0; i < images; i++)
            {
                // The deterministic part: how many, and drawn only from the right kind.
                long positives = matched[i].ge(1).sum().item<long>(), negatives = matched[i].eq(0).sum().item<long>();
                long wantPos = Math.Min(positives, (long)(batch * fraction));
                Assert.Equal(wantPos, positive[i].sum().item<long>());
                Assert.Equal(Math.Min(negatives, batch - wantPos), negative[i].sum().item<long>());
                Assert.Equal(0, positive[i].@bool().logical_and(matched[i].lt(1)).sum().item<long>());
                Assert.Equal(0, negative[i].@bool().logical_and(matched[i].ne(0)).sum().item<long>());
                // The draws themselves.
                BoxOpsReference.AssertIdentical(T($"positive/{i}"), positive[i], $"{name} positives of image {i}");
                BoxOpsReference.AssertIdentical(T($"negative/{i}"), negative[i], $"{name} negatives of image {i}");
            }
            count++;
        }
        Assert.Equal(3, count);
    }

    [Fact]
    public void ASeededGeneratorRepeatsItsDraws()
    {
        using var scope = NewDisposeScope();
        var matched = arange(300, ScalarType.Int64).remainder(5).sub(1); // -1, 0, 1, 2, 3 in turn
        var sampler = new BalancedPositiveNegativeSampler(40, 0.25);
        var first = sampler.Sample([matched], new Generator(5));
        var again = sampler.Sample([matched], new Generator(5));
        var other = sampler.Sample([matched], new Generator(6));
        Assert.True(BoxOpsReference.Same(first.Positive[0], again.Positive[0]) && BoxOpsReference.Same(first.Negative[0], again.Negative[0]));
        Assert.False(BoxOpsReference.Same(first.Positive[0], other.Positive[0]));
        Assert.Equal(10, first.Positive[0].sum().item<long>());
        Assert.Equal(30, first.Negative[0].sum().item<long>());
    }
}
