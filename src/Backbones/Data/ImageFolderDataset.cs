using Backbones.Vision;
using static TorchSharp.torch;

namespace Backbones.Data;

/// <summary>
/// Images in one subfolder per class, read as torchvision's <c>ImageFolder</c> reads them: the same <see cref="Classes"/>,
/// <see cref="ClassToIndex"/> and <see cref="Samples"/>, in the same order, for the same folder.
/// </summary>
/// <remarks>
/// As torchvision: every subfolder is a class (hidden ones too, symbolic links followed), sorted by code point; a class's
/// files are found recursively, folder by folder in sorted path order and sorted by name within a folder; a file is
/// an image when its name ends, in any case, with one of <see cref="Extensions"/>. A class without one is an error.
/// </remarks>
public sealed class ImageFolderDataset : ILabeledDataset
{
    /// <summary>torchvision's <c>IMG_EXTENSIONS</c>. Those <see cref="ImageDecoder"/> cannot decode (.ppm, .pgm, .tif)
    /// are listed all the same, and reported as unreadable when loaded.</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"];

    public ImageFolderDataset(string root)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (!Directory.Exists(root)) throw new DatasetException(root, "no such folder");
        Root = root;
        var classes = Directory.EnumerateFileSystemEntries(root).Where(Directory.Exists).Select(d => System.IO.Path.GetFileName(d)).ToList();
        classes.Sort(CodePointOrder.Instance);
        if (classes.Count == 0) throw new DatasetException(root, "holds no class folder (an image folder has one subfolder per class)");
        Classes = classes;
        ClassToIndex = classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i);

        var samples = new List<LabeledFile>();
        var empty = new List<string>();
        for (int label = 0; label < classes.Count; label++)
        {
            int before = samples.Count;
            foreach (var (_, files) in Walk(System.IO.Path.Combine(root, classes[label])).OrderBy(d => d.Folder, CodePointOrder.Instance))
            {
                files.Sort(CodePointOrder.Instance);
                samples.AddRange(files.Where(IsImage).Select(f => new LabeledFile(f, label)));
            }
            if (samples.Count == before) empty.Add(classes[label]);
        }
        if (empty.Count > 0)
        {
            throw new DatasetException(System.IO.Path.Combine(root, empty[0]),
                $"the class folder{(empty.Count > 1 ? "s" : "")} {string.Join(", ", empty.Select(e => $"'{e}'"))} of {root} hold{(empty.Count > 1 ? "" : "s")} " +
                $"no image (a file ending in {string.Join(", ", Extensions)}); remove {(empty.Count > 1 ? "them" : "it")} or add images");
        }
        Samples = samples;
    }

    /// <summary>The folder the classes are in.</summary>
    public string Root { get; }

    public IReadOnlyList<string> Classes { get; }

    public IReadOnlyDictionary<string, int> ClassToIndex { get; }

    /// <summary>Image files with their class index, in torchvision's order.</summary>
    public IReadOnlyList<LabeledFile> Samples { get; }

    public int Count => Samples.Count;

    public int Label(int index) => Samples[index].Label;

    /// <summary>The decoded image: uint8 3×H×W, or float32 in [0, 1] for a 16-bit PNG.</summary>
    public Tensor Read(int index) => ImageDecoder.Decode(Samples[index].Path).ToTensor();

    public string Describe(int index) => Samples[index].Path;

    public override string ToString() => $"{Root}: {Count} images in {Classes.Count} classes";

    // Python's path.lower().endswith(ext): for these extensions only ASCII letters can match (.NET's ignore-case
    // would also take 'ı' for 'i', which Python's lower() leaves alone).
    static bool IsImage(string path) => Extensions.Any(e => EndsWithLowered(path, e));

    static bool EndsWithLowered(string path, string ending)
    {
        if (path.Length < ending.Length) return false;
        for (int i = 0, p = path.Length - ending.Length; i < ending.Length; i++, p++)
        {
            char c = path[p];
            if (c != ending[i] && !(c is >= 'A' and <= 'Z' && c + 32 == ending[i])) return false;
        }
        return true;
    }

    /// <summary>
    /// Python's <c>os.walk(top, followlinks=True)</c>: each folder with the names of its entries that are not folders
    /// (broken links included); a folder that cannot be listed is skipped, as os.walk skips it.
    /// </summary>
    static IEnumerable<(string Folder, List<string> Files)> Walk(string top)
    {
        var pending = new Stack<string>([top]);
        while (pending.Count > 0)
        {
            string folder = pending.Pop();
            List<string> entries;
            try
            {
                entries = Directory.EnumerateFileSystemEntries(folder).ToList();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            var files = new List<string>();
            foreach (var entry in entries)
            {
                if (Directory.Exists(entry)) pending.Push(entry);
                else files.Add(entry);
            }
            yield return (folder, files);
        }
    }
}
