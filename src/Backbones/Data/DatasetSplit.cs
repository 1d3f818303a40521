using System.Globalization;

namespace Backbones.Data;

/// <summary>
/// A train/validation split of a dataset's sample indices by a fraction and a seed, optionally stratified (each class
/// split in the same proportion). The same labels, fraction and seed give the same split on every machine.
/// </summary>
/// <remarks>
/// Validation takes round(fraction × n) samples, at least one and at most n - 1: of the whole set, or, stratified, of
/// each class with two samples or more (a class of one sample goes to training), so every such class is in both parts.
/// </remarks>
public sealed record DatasetSplit(IReadOnlyList<int> Train, IReadOnlyList<int> Validation, double ValidationFraction, ulong Seed, bool Stratified)
{
    public static DatasetSplit Create(ILabeledDataset dataset, double validationFraction, ulong seed, bool stratified = false)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return Create(Enumerable.Range(0, dataset.Count).Select(dataset.Label).ToList(), validationFraction, seed, stratified);
    }

    /// <param name="labels">The class index of each sample.</param>
    public static DatasetSplit Create(IReadOnlyList<int> labels, double validationFraction, ulong seed, bool stratified = false)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (!(validationFraction > 0 && validationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "the validation fraction is between 0 and 1, both excluded");
        if (labels.Count < 2) throw new ArgumentException($"{labels.Count} sample{(labels.Count == 1 ? "" : "s")} cannot be split in two", nameof(labels));
        var random = new DeterministicRandom(seed);
        var train = new List<int>();
        var validation = new List<int>();
        var groups = stratified
            ? labels.Select((label, index) => (label, index)).GroupBy(p => p.label, p => p.index).OrderBy(g => g.Key).Select(g => g.ToList())
            : [Enumerable.Range(0, labels.Count).ToList()];
        foreach (var members in groups)
        {
            if (members.Count < 2)
            {
                train.AddRange(members);
                continue;
            }
            random.Shuffle(members);
            int take = (int)Math.Clamp(Math.Round(validationFraction * members.Count, MidpointRounding.ToEven), 1, members.Count - 1);
            validation.AddRange(members.Take(take));
            train.AddRange(members.Skip(take));
        }
        train.Sort();
        validation.Sort();
        return new DatasetSplit(train, validation, validationFraction, seed, stratified);
    }

    public override string ToString() =>
        $"train {Train.Count}, validation {Validation.Count} ({(ValidationFraction * 100).ToString("0.##", CultureInfo.InvariantCulture)}%{(Stratified ? ", stratified by class" : "")}, seed {Seed})";
}
