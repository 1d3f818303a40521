namespace Backbones.Vision;

/// <summary>One image to read: <see cref="Path"/> to open it, <see cref="Name"/> to record it by (relative to the folder or list it came from).</summary>
public sealed record ImageFile(string Path, string Name)
{
    /// <summary>
    /// The images of a folder (recursively, by extension, sorted by relative path with '/' separators, ordinal), or of a
    /// list file (one path a line, in its order; blank lines and lines starting with '#' skipped; relative paths are
    /// relative to the list's folder). The order is stable: the same folder gives the same order on every machine.
    /// </summary>
    public static IReadOnlyList<ImageFile> List(string folderOrList)
    {
        if (Directory.Exists(folderOrList))
        {
            return Directory.EnumerateFiles(folderOrList, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true })
                .Where(f => ImageDecoder.Extensions.Contains(System.IO.Path.GetExtension(f)))
                .Select(f => new ImageFile(f, System.IO.Path.GetRelativePath(folderOrList, f).Replace('\\', '/')))
                .OrderBy(f => f.Name, StringComparer.Ordinal)
                .ToList();
        }
        if (!File.Exists(folderOrList)) throw new FileNotFoundException($"{folderOrList}: no such folder or list file", folderOrList);
        string root = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(folderOrList))!;
        return File.ReadLines(folderOrList)
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => new ImageFile(System.IO.Path.IsPathRooted(l) ? l : System.IO.Path.Combine(root, l), l))
            .ToList();
    }

    /// <summary>Files given one by one: each recorded by the path as given.</summary>
    public static IReadOnlyList<ImageFile> Of(IEnumerable<string> paths) => paths.Select(p => new ImageFile(p, p)).ToList();
}
