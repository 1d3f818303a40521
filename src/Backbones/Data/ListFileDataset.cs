using System.Globalization;
using Backbones.Vision;
using static TorchSharp.torch;

namespace Backbones.Data;

/// <summary>
/// Images named in a list file, one <c>path,label</c> a line: the label is a class name or a class index, a relative
/// path is relative to the list file's folder, blank lines and lines starting with <c>#</c> are skipped.
/// </summary>
/// <remarks>
/// The label is what follows the last comma, so paths may hold commas. Without <c>classes</c>, labels that are all
/// indices give classes "0".."max", and labels that are all names give those names sorted by code point (as
/// <see cref="ImageFolderDataset"/> sorts folders). With <c>classes</c>, a label is a class name first, else an index.
/// </remarks>
public sealed class ListFileDataset : ILabeledDataset
{
    public ListFileDataset(string listFile, IReadOnlyList<string>? classes = null)
    {
        ArgumentNullException.ThrowIfNull(listFile);
        if (!File.Exists(listFile)) throw new DatasetException(listFile, "no such list file");
        ListFile = listFile;
        string folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(listFile))!;

        var lines = new List<(int Line, string Path, string Label)>();
        int number = 0;
        foreach (var raw in File.ReadLines(listFile))
        {
            number++;
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            int comma = line.LastIndexOf(',');
            string path = comma < 0 ? "" : line[..comma].Trim(), label = comma < 0 ? "" : line[(comma + 1)..].Trim();
            if (comma < 0 || path.Length == 0 || label.Length == 0)
                throw new DatasetException(listFile, $"line {number}: expected 'path,label', found '{Shorten(line)}'");
            lines.Add((number, System.IO.Path.GetFullPath(System.IO.Path.Combine(folder, path)), label));
        }
        if (lines.Count == 0) throw new DatasetException(listFile, "lists no image (lines are 'path,label')");

        Classes = classes?.ToList() ?? ClassesOf(listFile, lines);
        var byName = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < Classes.Count; i++)
        {
            if (!byName.TryAdd(Classes[i], i)) throw new ArgumentException($"class '{Classes[i]}' is named twice", nameof(classes));
        }
        Samples = lines.Select(l => new LabeledFile(l.Path, byName.TryGetValue(l.Label, out int c) ? c
            : Index(l.Label) is int k && k < Classes.Count ? k
            : throw new DatasetException(listFile, $"line {l.Line}: label '{Shorten(l.Label)}' is neither one of the {Classes.Count} class names nor an index below {Classes.Count}")))
            .ToList();
    }

    /// <summary>The list file read.</summary>
    public string ListFile { get; }

    public IReadOnlyList<string> Classes { get; }

    /// <summary>The listed files (absolute paths) with their class index, in the list's order.</summary>
    public IReadOnlyList<LabeledFile> Samples { get; }

    public int Count => Samples.Count;

    public int Label(int index) => Samples[index].Label;

    /// <summary>The decoded image: uint8 3×H×W, or float32 in [0, 1] for a 16-bit PNG.</summary>
    public Tensor Read(int index) => ImageDecoder.Decode(Samples[index].Path).ToTensor();

    public string Describe(int index) => Samples[index].Path;

    public override string ToString() => $"{ListFile}: {Count} images in {Classes.Count} classes";

    static List<string> ClassesOf(string listFile, List<(int Line, string Path, string Label)> lines)
    {
        var indices = lines.Where(l => Index(l.Label) is not null).ToList();
        if (indices.Count == lines.Count) return Enumerable.Range(0, lines.Max(l => Index(l.Label)!.Value) + 1).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToList();
        if (indices.Count > 0)
        {
            var name = lines.First(l => Index(l.Label) is null);
            throw new DatasetException(listFile, $"line {indices[0].Line}: label '{indices[0].Label}' is an index but line {name.Line}'s '{Shorten(name.Label)}' " +
                "is a name; give every label as a name or every label as an index, or pass the class names");
        }
        var names = lines.Select(l => l.Label).Distinct(StringComparer.Ordinal).ToList();
        names.Sort(CodePointOrder.Instance);
        return names;
    }

    static int? Index(string label) =>
        int.TryParse(label, NumberStyles.None, CultureInfo.InvariantCulture, out int i) ? i : null;

    static string Shorten(string text) => text.Length <= 80 ? text : text[..77] + "...";
}
