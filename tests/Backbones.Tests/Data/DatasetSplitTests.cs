using Backbones.Data;

namespace Backbones.Tests.Data;

/// <summary>The seeded generator is SplitMix64, and splits keep their promises: sizes, class proportions, repeatability.</summary>
public class DatasetSplitTests
{
    [Fact]
    public void GeneratorIsSplitMix64()
    {
        // The reference sequence of Vigna's splitmix64.c for the state 1234567.
        var random = new DeterministicRandom(1234567);
        ulong[] expected = [6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431, 16408922859458223821];
        Assert.Equal(expected, Enumerable.Range(0, 5).Select(_ => random.NextUInt64()));
    }

    [Fact]
    public void BoundedDrawsAreUniform()
    {
        var random = new DeterministicRandom(9);
        var counts = new int[7];
        for (int i = 0; i < 70_000; i++) counts[random.NextInt(7)]++;
        Assert.All(counts, c => Assert.InRange(c, 9_600, 10_400)); // 10,000 expected, sd about 93
        var permutation = random.Permutation(50);
        Assert.Equal(Enumerable.Range(0, 50), permutation.Order());
    }

    [Fact]
    public void StratifiedSplitKeepsEachClassProportionAndEveryClassInBothParts()
    {
        int[] sizes = [50, 20, 3, 2, 1];
        var labels = sizes.SelectMany((n, c) => Enumerable.Repeat(c, n)).ToArray();
        // Shuffle the labels' positions so classes are not contiguous.
        new DeterministicRandom(77).Shuffle(labels);
        var split = DatasetSplit.Create(labels, 0.2, seed: 5, stratified: true);

        int[] validationPerClass = sizes.Select((_, c) => split.Validation.Count(i => labels[i] == c)).ToArray();
        // round(0.2 n), at least 1 and at most n - 1; a class of one sample stays in training.
        Assert.Equal([10, 4, 1, 1, 0], validationPerClass);
        Assert.Equal(sizes.Select((n, c) => n - validationPerClass[c]), sizes.Select((_, c) => split.Train.Count(i => labels[i] == c)));
        Assert.Equal(Enumerable.Range(0, labels.Length), split.Train.Concat(split.Validation).Order());
        Assert.Equal(split.Train.Order(), split.Train);
        Assert.Equal("train 60, validation 16 (20%, stratified by class, seed 5)", split.ToString());
    }

    [Fact]
    public void SameSeedGivesTheSameSplitAndAnotherSeedAnother()
    {
        var labels = Enumerable.Range(0, 101).Select(i => i % 3).ToList();
        var a = DatasetSplit.Create(labels, 0.1, seed: 42);
        var b = DatasetSplit.Create(labels, 0.1, seed: 42);
        var c = DatasetSplit.Create(labels, 0.1, seed: 43);
        Assert.Equal(a.Validation, b.Validation);
        Assert.NotEqual(a.Validation, c.Validation);
        Assert.Equal(10, a.Validation.Count); // round(10.1)
        Assert.Equal(91, a.Train.Count);
    }

    [Fact]
    public void RefusesFractionsThatLeaveAPartEmpty()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => DatasetSplit.Create([0, 1, 0], 0, seed: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DatasetSplit.Create([0, 1, 0], 1, seed: 1));
        Assert.Throws<ArgumentException>(() => DatasetSplit.Create([0], 0.5, seed: 1));
    }
}
