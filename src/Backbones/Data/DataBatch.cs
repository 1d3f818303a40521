using static TorchSharp.torch;

namespace Backbones.Data;

/// <summary>
/// One batch of a <see cref="DataLoader"/> epoch: the transformed images (N×C×H×W float32), their labels (N int64), the
/// dataset index of each row, and the samples of this batch that could not be read. Dispose to free the tensors.
/// </summary>
public sealed class DataBatch : IDisposable
{
    internal DataBatch(int epoch, int number, Tensor images, Tensor labels, IReadOnlyList<int> indices, IReadOnlyList<SampleFailure> failures)
    {
        Epoch = epoch;
        Number = number;
        Images = images;
        Labels = labels;
        Indices = indices;
        Failures = failures;
    }

    public int Epoch { get; }

    /// <summary>Position of this batch in its epoch, from 0.</summary>
    public int Number { get; }

    public Tensor Images { get; }

    public Tensor Labels { get; }

    /// <summary>The dataset index of each row of <see cref="Images"/>.</summary>
    public IReadOnlyList<int> Indices { get; }

    /// <summary>Samples of this batch left out because they could not be read.</summary>
    public IReadOnlyList<SampleFailure> Failures { get; }

    /// <summary>Rows: the batch size less the failures.</summary>
    public int Count => Indices.Count;

    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}
