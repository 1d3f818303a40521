using System.Text.Json;
using Backbones.Tests.Support;
using Backbones.Tests.Vision;
using Backbones.Weights;

namespace Backbones.Tests.Cli;

/// <summary><c>classify</c>: PyTorch's top classes and probabilities for the same files and weights, names, labels files, unreadable files.</summary>
public sealed class ClassifyCommandTests
{
    [Fact]
    public void JsonGivesPyTorchsTopClassesWithImageNetNames()
    {
        string[] paths = [ReferenceImages.Path("rgb.png"), ReferenceImages.Path("palette.png")];
        var reference = ClassifyReference.Make("resnet18", 72, 64, 1000, paths);
        var (code, output, error) = CliRunner.Run(["classify", "resnet18", "--weights", reference.Weights, .. paths,
            "--resize", "72", "--crop", "64", "--topk", "3", "--json"]);
        Assert.True(code == 0, error);
        using var doc = JsonDocument.Parse(output);
        var images = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal(paths, images.Select(i => i.GetProperty("path").GetString()));
        for (int i = 0; i < paths.Length; i++)
        {
            var top = images[i].GetProperty("top").EnumerateArray().ToList();
            Assert.Equal(reference.Top[i].Take(3).Select(t => t.Index), top.Select(t => t.GetProperty("index").GetInt32()));
            Assert.Equal(reference.Top[i].Take(3).Select(t => t.Probability), top.Select(t => t.GetProperty("probability").GetDouble()),
                (a, b) => Math.Abs(a - b) < 1e-5);
            Assert.Equal(top.Select(t => WeightsCatalogue.ImageNetCategories[t.GetProperty("index").GetInt32()]),
                top.Select(t => t.GetProperty("label").GetString()));
        }
    }

    [Fact]
    public void TextShowsPercentagesWithLabelsFromAFile()
    {
        string image = ReferenceImages.Path("baseline.jpg");
        var reference = ClassifyReference.Make("resnet18", 72, 64, 4, image);
        string labels = Path.Combine(TempFolder.Create("labels"), "labels.txt");
        File.WriteAllLines(labels, ["cat", "dog", "bird", "fish"]);
        var (code, output, error) = CliRunner.Run("classify", "resnet18", "--weights", reference.Weights, "--num-classes", "4", "--labels", labels,
            image, "--resize", "72", "--crop", "64", "--topk", "2");
        Assert.True(code == 0, error);
        string[] names = ["cat", "dog", "bird", "fish"];
        var expected = reference.Top[0].Take(2).Select(t => $"  {t.Probability * 100,7:F2}%  {names[t.Index]} ({t.Index})");
        Assert.Equal([image, .. expected], output.TrimEnd().Split('\n'));
    }

    [Fact]
    public void UnreadableImageIsReportedAndTheOthersStillClassified()
    {
        string good = ReferenceImages.Path("rgb.png"), bad = ReferenceImages.Path("text.jpg");
        var (code, output, error) = CliRunner.Run("classify", "resnet18", "--num-classes", "3", bad, good, "--resize", "40", "--crop", "32", "--topk", "1");
        Assert.Equal(2, code);
        Assert.Contains($"error: {bad}: not a JPEG, PNG, GIF, WebP or BMP file", error);
        Assert.Contains("warning: no --weights given", error);
        Assert.StartsWith(good + "\n  ", output);
    }

    [Fact]
    public void WeightsWithAnotherHeadNeedNumClasses()
    {
        var reference = ClassifyReference.Make("resnet18", 40, 32, 4, ReferenceImages.Path("rgb.png"));
        var (code, _, error) = CliRunner.Run("classify", "resnet18", "--weights", reference.Weights, ReferenceImages.Path("rgb.png"));
        Assert.Equal(2, code);
        Assert.Contains("give its --num-classes", error);
    }
}
