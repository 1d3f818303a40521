namespace Backbones.Inspection;

/// <summary>A plain-text table with columns padded to their widest cell, readable in a terminal and diffable in a file.</summary>
public static class TextTable
{
    public static void Write(TextWriter output, IReadOnlyList<string> header, IReadOnlyList<IReadOnlyList<string>> rows)
    {
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        // Columns that are empty in every row are left out (e.g. strides when every tensor is contiguous).
        var shown = Enumerable.Range(0, header.Count).Where(i => rows.Any(r => r[i].Length > 0) || rows.Count == 0).ToArray();
        string Line(IReadOnlyList<string> cells) => string.Join("  ", shown.Select(i => cells[i].PadRight(widths[i]))).TrimEnd();
        output.WriteLine(Line(header));
        foreach (var row in rows) output.WriteLine(Line(row));
    }
}
