using static TorchSharp.torch;

namespace Backbones.Data;

/// <summary>
/// The samples of some classes of a dataset, relabelled 0..k-1 in the order the classes are given (Fashion-MNIST's
/// classes 5–9 become a 5-class problem), optionally at most a number of samples per class, taken in dataset order.
/// </summary>
public sealed class ClassSubset : ILabeledDataset
{
    readonly int[] _indices, _labels;

    public ClassSubset(ILabeledDataset source, IReadOnlyList<int> classes, int? perClass = null)
    {
        if (classes.Count == 0) throw new ArgumentException("keep at least one class", nameof(classes));
        if (perClass is < 1) throw new ArgumentOutOfRangeException(nameof(perClass), perClass, "keep at least one sample per class");
        var position = new Dictionary<int, int>();
        for (int i = 0; i < classes.Count; i++)
        {
            if (classes[i] < 0 || classes[i] >= source.Classes.Count) throw new ArgumentOutOfRangeException(nameof(classes), classes[i], $"{source} has {source.Classes.Count} classes");
            if (!position.TryAdd(classes[i], i)) throw new ArgumentException($"class {classes[i]} given twice", nameof(classes));
        }
        var taken = new int[classes.Count];
        var indices = new List<int>();
        var labels = new List<int>();
        for (int i = 0; i < source.Count; i++)
        {
            if (!position.TryGetValue(source.Label(i), out int label) || (perClass is { } cap && taken[label] >= cap)) continue;
            taken[label]++;
            indices.Add(i);
            labels.Add(label);
        }
        Source = source;
        SourceClasses = classes;
        Classes = classes.Select(c => source.Classes[c]).ToList();
        _indices = [.. indices];
        _labels = [.. labels];
    }

    public ILabeledDataset Source { get; }

    /// <summary>The kept classes' indices in the source, in their new order.</summary>
    public IReadOnlyList<int> SourceClasses { get; }

    public int Count => _indices.Length;

    public IReadOnlyList<string> Classes { get; }

    public int Label(int index) => _labels[index];

    public Tensor Read(int index) => Source.Read(_indices[index]);

    public string Describe(int index) => Source.Describe(_indices[index]);

    public override string ToString() => $"{Count} images of classes {string.Join(", ", SourceClasses)} of {Source}";
}
