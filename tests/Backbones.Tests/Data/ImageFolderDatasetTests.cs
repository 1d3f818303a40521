using System.Text.Json;
using Backbones.Data;
using Backbones.Tests.Support;

namespace Backbones.Tests.Data;

/// <summary>ImageFolderDataset lists exactly what torchvision 0.14's ImageFolder lists for the same folder
/// (tests/reference/image_folder_listing.py), and refuses what it refuses.</summary>
public class ImageFolderDatasetTests
{
    [Fact]
    public void ListsTheClassesAndSamplesTorchvisionListsInItsOrder()
    {
        PyTorch.Require();
        string root = Path.Combine(TempFolder.Create("imagefolder"), "data");
        string outside = Path.Combine(Path.GetDirectoryName(root)!, "outside");
        Touch(root,
            // Nested folders: os.walk order is by folder path ("sub" < "sub-x" < "sub.y" < "sub/deeper"), not by file path.
            "cat/b.jpg", "cat/a.JPG", "cat/Z.jpeg", "cat/.hidden.png", "cat/.jpg", "cat/sub/c.png", "cat/sub/deeper/d.webp",
            "cat/sub-x/e.bmp", "cat/sub.y/f.tif", "cat/Sub/g.PPM", "cat/h.TIFF", "cat/i.pgm",
            // Not images to torchvision: other extensions, no extension, a dotless ı where an i belongs.
            "cat/notes.txt", "cat/anim.gif", "cat/x.jpg.bak", "cat/noext", "cat/photo.tıf", "cat/b.jpgx",
            "Dog/1.png", "b/x/2.jpg", "b/1.jpg", "b-a/3.png", "b.c/4.png", ".hidden_class/5.jpg",
            "ｆｕｌｌ/6.jpg", "🐱/7.webp", "top_level_file.jpg");
        Touch(outside, "k.png", "deeper/l.jpg");
        Directory.CreateSymbolicLink(Path.Combine(root, "linked"), outside);
        Directory.CreateSymbolicLink(Path.Combine(root, "cat", "link_to_dog"), Path.Combine(root, "Dog"));

        var theirs = Torchvision(root);
        var ours = new ImageFolderDataset(root);

        var expectedClasses = theirs.GetProperty("classes").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal(expectedClasses, ours.Classes);
        // Code-point order: 'ｆ' (U+FF46) before '🐱' (U+1F431), though UTF-16's surrogates sort the other way.
        Assert.Equal([".hidden_class", "Dog", "b", "b-a", "b.c", "cat", "linked", "ｆｕｌｌ", "🐱"], ours.Classes);
        Assert.Equal(theirs.GetProperty("class_to_idx").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32()), ours.ClassToIndex);
        var expectedSamples = theirs.GetProperty("samples").EnumerateArray().Select(s => (s[0].GetString()!, s[1].GetInt32())).ToList();
        Assert.Equal(expectedSamples, ours.Samples.Select(s => (Path.GetRelativePath(root, s.Path), s.Label)).ToList());
        Assert.Contains(("cat/sub/c.png", 5), expectedSamples); // the tree really exercised nesting, links and odd names
        Assert.Contains(("cat/link_to_dog/1.png", 5), expectedSamples);
        Assert.Contains(("linked/deeper/l.jpg", 6), expectedSamples);
        Assert.Equal(23, ours.Count);
    }

    [Fact]
    public void ClassFolderWithoutImagesIsAnErrorNamingIt()
    {
        PyTorch.Require();
        string root = TempFolder.Create("imagefolder-empty");
        Touch(root, "cat/a.jpg", "empty/readme.txt", "bare/.keep");
        var theirs = Torchvision(root);
        Assert.Equal("FileNotFoundError", theirs.GetProperty("error").GetString());
        Assert.Contains("bare, empty", theirs.GetProperty("message").GetString());

        var e = Assert.Throws<DatasetException>(() => new ImageFolderDataset(root));
        Assert.Equal(Path.Combine(root, "bare"), e.Path);
        Assert.Contains("'bare', 'empty'", e.Message);
        Assert.Contains("hold no image", e.Message);
        Assert.Contains(root, e.Message);
    }

    [Fact]
    public void FolderWithoutClassFoldersIsAnError()
    {
        PyTorch.Require();
        string root = TempFolder.Create("imagefolder-flat");
        Touch(root, "a.jpg", "b.png");
        Assert.Equal("FileNotFoundError", Torchvision(root).GetProperty("error").GetString());
        var e = Assert.Throws<DatasetException>(() => new ImageFolderDataset(root));
        Assert.Contains("no class folder", e.Message);
        Assert.Contains("no such folder", Assert.Throws<DatasetException>(() => new ImageFolderDataset(Path.Combine(root, "missing"))).Message);
    }

    static JsonElement Torchvision(string root)
    {
        string output = Path.Combine(Path.GetDirectoryName(root)!, $"listing-{Guid.NewGuid():N}.json");
        var (code, stdout, stderr) = PyTorch.RunScript("image_folder_listing.py", root, output);
        Assert.True(code == 0, stdout + stderr);
        using var doc = JsonDocument.Parse(File.ReadAllText(output));
        return doc.RootElement.Clone();
    }

    /// <summary>Empty files: listing never opens them.</summary>
    internal static void Touch(string root, params string[] files)
    {
        foreach (var file in files)
        {
            string path = Path.Combine(root, file);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, []);
        }
    }
}
