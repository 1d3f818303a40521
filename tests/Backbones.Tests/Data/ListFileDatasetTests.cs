using Backbones.Data;
using Backbones.Tests.Support;

namespace Backbones.Tests.Data;

/// <summary>List files: names or indices as labels, paths relative to the list, comments skipped, bad lines named by number.</summary>
public class ListFileDatasetTests
{
    [Fact]
    public void ReadsNamedLabelsWithPathsRelativeToTheListFolder()
    {
        string folder = TempFolder.Create("listfile");
        string list = Write(folder, "lists/train.txt",
            "# images and their classes",
            "",
            "../img/a.jpg, dog",
            "/data/elsewhere/b.png,cat",
            "   ",
            "../img/with,comma.jpg,dog");
        var data = new ListFileDataset(list);
        Assert.Equal(["cat", "dog"], data.Classes);
        Assert.Equal(
            [new(Path.Combine(folder, "img", "a.jpg"), 1), new("/data/elsewhere/b.png", 0), new(Path.Combine(folder, "img", "with,comma.jpg"), 1)],
            data.Samples);
        Assert.Equal(1, data.Label(2));
    }

    [Fact]
    public void IndexLabelsNumberTheClassesUnlessNamesAreGiven()
    {
        string folder = TempFolder.Create("listfile");
        string list = Write(folder, "list.csv", "a.jpg,2", "b.jpg,0");
        Assert.Equal(["0", "1", "2"], new ListFileDataset(list).Classes);
        Assert.Equal([2, 0], new ListFileDataset(list).Samples.Select(s => s.Label));

        string mixed = Write(folder, "mixed.csv", "a.jpg,bird", "b.jpg,0", "c.jpg,cat");
        var named = new ListFileDataset(mixed, ["cat", "bird"]);
        Assert.Equal([1, 0, 0], named.Samples.Select(s => s.Label));
        var e = Assert.Throws<DatasetException>(() => new ListFileDataset(mixed));
        Assert.Contains("line 2: label '0' is an index but line 1's 'bird' is a name", e.Message);
    }

    [Theory]
    [InlineData("no_comma.jpg", 3, "expected 'path,label'")]
    [InlineData(",cat", 3, "expected 'path,label'")]
    [InlineData("x.jpg,", 3, "expected 'path,label'")]
    [InlineData("x.jpg,7", 3, "label '7' is neither one of the 2 class names nor an index below 2")]
    [InlineData("x.jpg,horse", 3, "label 'horse' is neither")]
    public void BadLineIsAnErrorNamingTheFileAndLine(string line, int number, string problem)
    {
        string folder = TempFolder.Create("listfile");
        string list = Write(folder, "bad.txt", "a.jpg,cat", "# fine so far", line, "b.jpg,dog");
        var e = Assert.Throws<DatasetException>(() => new ListFileDataset(list, ["cat", "dog"]));
        Assert.Equal(list, e.Path);
        Assert.Contains($"line {number}: {problem}", e.Message);
        Assert.StartsWith(list + ": ", e.Message);
    }

    static string Write(string folder, string name, params string[] lines)
    {
        string path = Path.Combine(folder, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllLines(path, lines);
        return path;
    }
}
