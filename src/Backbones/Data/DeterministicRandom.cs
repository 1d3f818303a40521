namespace Backbones.Data;

/// <summary>
/// The random numbers of splitting, shuffling and augmentation: SplitMix64, the same sequence on every machine and .NET
/// version (System.Random's algorithm is unspecified), with independent streams derived from keys such as (seed, epoch, index).
/// </summary>
public sealed class DeterministicRandom
{
    const ulong Golden = 0x9E3779B97F4A7C15;

    ulong _state;

    public DeterministicRandom(ulong seed) => _state = seed;

    /// <summary>
    /// The stream for <paramref name="seed"/> and <paramref name="keys"/> (an epoch, a sample index...): the same keys
    /// give the same stream wherever and whenever it is asked for, so results do not depend on which thread draws first.
    /// </summary>
    public static DeterministicRandom For(ulong seed, params ReadOnlySpan<long> keys)
    {
        ulong state = Mix(seed + Golden);
        foreach (long key in keys) state = Mix(state ^ Mix((ulong)key + Golden));
        return new DeterministicRandom(state);
    }

    /// <summary>64 uniformly random bits.</summary>
    public ulong NextUInt64()
    {
        _state += Golden;
        return Mix(_state);
    }

    /// <summary>Uniform in [0, 1), 53 bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, 1), 24 bits.</summary>
    public float NextSingle() => (NextUInt64() >> 40) * (1f / (1 << 24));

    /// <summary>Uniform in [<paramref name="low"/>, <paramref name="high"/>], computed in float32 as torch's <c>uniform_</c> on a float tensor.</summary>
    public float Uniform(float low, float high) => low + (high - low) * NextSingle();

    /// <summary>Uniform integer in [0, <paramref name="count"/>), without modulo bias.</summary>
    public int NextInt(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ulong bound = (ulong)count, threshold = (0 - bound) % bound, x;
        do x = NextUInt64(); while (x < threshold);
        return (int)(x % bound);
    }

    /// <summary>A uniformly random permutation of 0..<paramref name="count"/>-1 (Fisher-Yates).</summary>
    public int[] Permutation(int count)
    {
        var p = new int[count];
        for (int i = 0; i < count; i++) p[i] = i;
        Shuffle(p);
        return p;
    }

    /// <summary>Shuffles <paramref name="items"/> in place, uniformly (Fisher-Yates).</summary>
    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
