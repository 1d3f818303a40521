namespace Backbones.Training;

/// <summary>
/// Counts of (true class, predicted class) pairs, rows true and columns predicted as scikit-learn lays them out, with
/// the accuracy and each class's precision and recall read from them.
/// </summary>
public sealed class ConfusionMatrix
{
    readonly long[,] _counts;

    public ConfusionMatrix(IReadOnlyList<string> classes)
    {
        if (classes.Count == 0) throw new ArgumentException("a confusion matrix needs at least one class", nameof(classes));
        Classes = classes;
        _counts = new long[classes.Count, classes.Count];
    }

    /// <summary>A matrix from counts laid out as <see cref="Rows"/> gives them.</summary>
    public static ConfusionMatrix FromRows(IReadOnlyList<string> classes, long[][] rows)
    {
        var matrix = new ConfusionMatrix(classes);
        if (rows.Length != classes.Count || rows.Any(r => r.Length != classes.Count))
            throw new ArgumentException($"a confusion matrix of {classes.Count} classes needs {classes.Count}×{classes.Count} counts", nameof(rows));
        for (int t = 0; t < rows.Length; t++)
            for (int p = 0; p < rows.Length; p++)
            {
                if (rows[t][p] < 0) throw new ArgumentException($"negative count at ({t}, {p})", nameof(rows));
                matrix._counts[t, p] = rows[t][p];
                matrix.Total += rows[t][p];
            }
        return matrix;
    }

    public IReadOnlyList<string> Classes { get; }

    /// <summary>How many samples of class <paramref name="truth"/> were predicted as <paramref name="predicted"/>.</summary>
    public long this[int truth, int predicted] => _counts[truth, predicted];

    public long Total { get; private set; }

    public void Add(int truth, int predicted)
    {
        if ((uint)truth >= (uint)Classes.Count) throw new ArgumentOutOfRangeException(nameof(truth), truth, $"label outside the {Classes.Count} classes");
        if ((uint)predicted >= (uint)Classes.Count) throw new ArgumentOutOfRangeException(nameof(predicted), predicted, $"prediction outside the {Classes.Count} classes");
        _counts[truth, predicted]++;
        Total++;
    }

    /// <summary>Correct predictions over all samples (0 when there are none).</summary>
    public double Accuracy => Total == 0 ? 0 : Enumerable.Range(0, Classes.Count).Sum(c => _counts[c, c]) / (double)Total;

    /// <summary>Of the samples predicted as <paramref name="c"/>, the fraction that are <paramref name="c"/> (0 when none were predicted).</summary>
    public double Precision(int c)
    {
        long predicted = Enumerable.Range(0, Classes.Count).Sum(t => _counts[t, c]);
        return predicted == 0 ? 0 : _counts[c, c] / (double)predicted;
    }

    /// <summary>Of the samples of class <paramref name="c"/>, the fraction predicted as <paramref name="c"/> (0 when there are none).</summary>
    public double Recall(int c)
    {
        long actual = Enumerable.Range(0, Classes.Count).Sum(p => _counts[c, p]);
        return actual == 0 ? 0 : _counts[c, c] / (double)actual;
    }

    /// <summary>Samples of class <paramref name="c"/>.</summary>
    public long Support(int c) => Enumerable.Range(0, Classes.Count).Sum(p => _counts[c, p]);

    /// <summary>The counts as rows of the true classes.</summary>
    public long[][] Rows() =>
        Enumerable.Range(0, Classes.Count).Select(t => Enumerable.Range(0, Classes.Count).Select(p => _counts[t, p]).ToArray()).ToArray();
}
