namespace Backbones.Data;

/// <summary>A sample that could not be read or transformed in an epoch: its index in the dataset, what it is, and why.</summary>
public sealed record SampleFailure(int Epoch, int Index, string Sample, string Problem)
{
    public override string ToString() => $"{Sample}: {Problem}";
}
