using static TorchSharp.torch;

namespace Backbones.Data;

/// <summary>
/// A labelled image dataset as the <see cref="DataLoader"/> reads it: samples 0..Count-1, each with a class index into
/// <see cref="Classes"/>, read one at a time (from any thread) as a C×H×W image tensor.
/// </summary>
public interface ILabeledDataset
{
    int Count { get; }

    /// <summary>Class names; a label is an index into this list.</summary>
    IReadOnlyList<string> Classes { get; }

    /// <summary>The class index of sample <paramref name="index"/>, known without reading the sample.</summary>
    int Label(int index);

    /// <summary>
    /// Sample <paramref name="index"/> as a new C×H×W tensor, uint8 or float in [0, 1], owned by the caller; an unreadable
    /// sample throws (an <see cref="Vision.ImageDecodeException"/> for an image file).
    /// </summary>
    Tensor Read(int index);

    /// <summary>Names sample <paramref name="index"/> in reports: its file, or its file and position.</summary>
    string Describe(int index);
}
