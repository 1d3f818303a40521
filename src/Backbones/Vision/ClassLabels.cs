using Backbones.Weights;

namespace Backbones.Vision;

/// <summary>Names of a classifier's outputs: a labels file, the weights set's categories, ImageNet's for 1000 classes, else "class N".</summary>
public static class ClassLabels
{
    /// <summary>
    /// The labels for a model with <paramref name="numClasses"/> outputs: <paramref name="labelsFile"/> (one a line) when
    /// given, else the categories of the catalogue weights set <paramref name="weights"/> names, else ImageNet's when there
    /// are 1000, else <c>class 0</c>, <c>class 1</c>, ...
    /// </summary>
    public static IReadOnlyList<string> For(string model, string? weights, long numClasses, string? labelsFile = null)
    {
        if (labelsFile is not null)
        {
            var lines = File.ReadAllLines(labelsFile).Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
            if (lines.Count != numClasses)
                throw new ArgumentException($"{labelsFile}: {lines.Count} labels for a classifier of {numClasses} classes");
            return lines;
        }
        var categories = weights is null ? null : WeightsCatalogue.Find(model, weights)?.Categories;
        if (categories is { Count: > 0 } && categories.Count == numClasses) return categories;
        if (numClasses == 1000) return WeightsCatalogue.ImageNetCategories;
        return Enumerable.Range(0, (int)numClasses).Select(i => $"class {i}").ToList();
    }
}
