using static TorchSharp.torch;

namespace Backbones.Data;

/// <summary>Some samples of a dataset, in a given order, as a dataset of their own (the parts of a <see cref="DatasetSplit"/>).</summary>
public sealed class DatasetSubset : ILabeledDataset
{
    public DatasetSubset(ILabeledDataset source, IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(indices);
        int bad = indices.ToList().FindIndex(i => i < 0 || i >= source.Count);
        if (bad >= 0) throw new ArgumentOutOfRangeException(nameof(indices), $"index {indices[bad]} (position {bad}) is outside the {source.Count} samples of {source}");
        Source = source;
        Indices = indices;
    }

    public ILabeledDataset Source { get; }

    /// <summary>The index in <see cref="Source"/> of each sample of this subset.</summary>
    public IReadOnlyList<int> Indices { get; }

    public int Count => Indices.Count;

    public IReadOnlyList<string> Classes => Source.Classes;

    public int Label(int index) => Source.Label(Indices[index]);

    public Tensor Read(int index) => Source.Read(Indices[index]);

    public string Describe(int index) => Source.Describe(Indices[index]);

    public override string ToString() => $"{Count} of {Source}";
}
