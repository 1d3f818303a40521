using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Data;

/// <summary>
/// An images IDX file paired with its labels IDX file, as MNIST and Fashion-MNIST come: images N×H×W (one channel) or
/// N×C×H×W, labels N integers. Both are held in memory; dispose to free them.
/// </summary>
public sealed class IdxDataset : ILabeledDataset, IDisposable
{
    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> package puts the files.</summary>
    public const string DebianFashionMnistFolder = "/usr/share/datasets/fashion-mnist";

    /// <summary>Fashion-MNIST's ten classes, in label order.</summary>
    public static IReadOnlyList<string> FashionMnistClasses { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    readonly int[] _labels;

    /// <param name="classes">Class names in label order; by default "0".."max label".</param>
    public IdxDataset(string imagesFile, string labelsFile, IReadOnlyList<string>? classes = null)
    {
        ImagesFile = imagesFile;
        LabelsFile = labelsFile;
        Images = IdxReader.Read(imagesFile);
        try
        {
            if (Images.dim() is not (3 or 4))
                throw new DatasetException(imagesFile, $"images are N×H×W or N×C×H×W, not [{string.Join(", ", Images.shape)}]");
            using var labels = IdxReader.Read(labelsFile);
            if (labels.dim() != 1 || labels.is_floating_point())
                throw new DatasetException(labelsFile, $"labels are one integer a sample, not [{string.Join(", ", labels.shape)}] {labels.dtype}");
            if (labels.shape[0] != Images.shape[0])
                throw new DatasetException(labelsFile, $"holds {labels.shape[0]} labels for the {Images.shape[0]} images of {imagesFile}");
            using var asInt = labels.to_type(ScalarType.Int32);
            _labels = asInt.data<int>().ToArray();
            int max = _labels.Length == 0 ? -1 : _labels.Max();
            Classes = classes?.ToList() ?? Enumerable.Range(0, max + 1).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToList();
            int bad = Array.FindIndex(_labels, l => l < 0 || l >= Classes.Count);
            if (bad >= 0) throw new DatasetException(labelsFile, $"label {_labels[bad]} of sample {bad} is not a class index (0..{Classes.Count - 1})");
        }
        catch
        {
            Images.Dispose();
            throw;
        }
    }

    /// <summary>Fashion-MNIST's training (60,000) or test (10,000) set from <paramref name="folder"/>, gzip-compressed or not.</summary>
    public static IdxDataset FashionMnist(bool train, string folder = DebianFashionMnistFolder)
    {
        string prefix = train ? "train" : "t10k";
        return new IdxDataset(Find(folder, $"{prefix}-images-idx3-ubyte"), Find(folder, $"{prefix}-labels-idx1-ubyte"), FashionMnistClasses);
    }

    public string ImagesFile { get; }

    public string LabelsFile { get; }

    /// <summary>All images, as the file holds them.</summary>
    public Tensor Images { get; }

    public IReadOnlyList<string> Classes { get; }

    public int Count => _labels.Length;

    public int Label(int index) => _labels[index];

    /// <summary>Image <paramref name="index"/>: a copy, C×H×W (1×H×W for an N×H×W file), of the file's type.</summary>
    public Tensor Read(int index)
    {
        using var scope = NewDisposeScope();
        var row = Images[index];
        return (Images.dim() == 3 ? row.unsqueeze(0) : row).clone().MoveToOuterDisposeScope();
    }

    public string Describe(int index) => $"{ImagesFile} #{index}";

    public override string ToString() => $"{ImagesFile}: {Count} images [{string.Join("×", Images.shape.Skip(1))}] in {Classes.Count} classes";

    public void Dispose() => Images.Dispose();

    static string Find(string folder, string name)
    {
        foreach (var candidate in new[] { name + ".gz", name })
        {
            string path = Path.Combine(folder, candidate);
            if (File.Exists(path)) return path;
        }
        throw new DatasetException(Path.Combine(folder, name), "not found, compressed (.gz) or not (Debian's dataset-fashion-mnist package puts Fashion-MNIST in " + DebianFashionMnistFolder + ")");
    }
}
