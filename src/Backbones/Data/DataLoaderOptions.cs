namespace Backbones.Data;

/// <summary>Batching, order and parallelism of a <see cref="DataLoader"/>.</summary>
public sealed record DataLoaderOptions
{
    /// <summary>Samples per batch (a batch holds fewer when some of its samples cannot be read).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>A new order every epoch, drawn from (<see cref="Seed"/>, epoch); else the dataset's order.</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>Leave out the last batch of an epoch when it would have fewer than <see cref="BatchSize"/> samples.</summary>
    public bool DropLast { get; init; }

    /// <summary>Seeds the order of every epoch and the augmentation of every sample.</summary>
    public ulong Seed { get; init; }

    /// <summary>Threads reading and transforming samples; by default one per core.</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>Batches prepared ahead of the one being consumed.</summary>
    public int Prefetch { get; init; } = 2;
}
