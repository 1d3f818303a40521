/// <summary>Spread of a list of samples (named fields, so the JSON reports show them): min, median and max.</summary>
record Summary(double Min, double Median, double Max)
{
    /// <summary>The spread of the samples that exist (missing ones, e.g. a failed round, are left out); NaN if none.</summary>
    public static Summary Of(IEnumerable<double?> samples)
    {
        var sorted = samples.Where(v => v.HasValue).Select(v => v!.Value).Order().ToArray();
        if (sorted.Length == 0) return new(double.NaN, double.NaN, double.NaN);
        int mid = sorted.Length / 2;
        return new(sorted[0], sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2, sorted[^1]);
    }

    public static Summary Of(IEnumerable<double> samples) => Of(samples.Select(v => (double?)v));
}
