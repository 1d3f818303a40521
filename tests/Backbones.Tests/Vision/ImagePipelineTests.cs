using Backbones.Vision;
using static TorchSharp.torch;

namespace Backbones.Tests.Vision;

/// <summary>The parallel pipeline keeps input order, gives what sequential decoding + preprocessing gives, and reports unreadable files without stopping.</summary>
public class ImagePipelineTests
{
    static readonly ImagePreprocessing Small = new() { ResizeSize = 20, CropSize = 16 };

    [Fact]
    public void BatchesKeepInputOrderAndReportUnreadableFiles()
    {
        string[] good = ["rgb.png", "baseline.jpg", "orientation6.jpg", "gray16.png", "palette.gif", "rgb24.bmp", "progressive.jpg", "lossless.webp"];
        string[] bad = ["truncated.jpg", "text.jpg", "rle8.bmp"];
        // 40 files, a broken one every fourth, so failures fall inside batches and one batch holds a failure at its end.
        var files = Enumerable.Range(0, 40)
            .Select(i => i % 4 == 3 ? bad[i / 4 % bad.Length] : good[i % good.Length])
            .Select((name, i) => new ImageFile(ReferenceImages.Path(name), $"{i:D2}-{name}"))
            .ToList();

        var seenFiles = new List<ImageFile>();
        var seenFailures = new List<ImageFailure>();
        var starts = new List<int>();
        foreach (var batch in ImagePipeline.Batches(files, Small, new ImagePipelineOptions { BatchSize = 6, Workers = 3, Prefetch = 1 }, TestContext.Current.CancellationToken))
        {
            using (batch)
            {
                starts.Add(batch.Start);
                Assert.Equal([batch.Files.Count, 3L, 16, 16], batch.Images.shape);
                for (int row = 0; row < batch.Files.Count; row++)
                {
                    using var expected = Small.Apply(ImageDecoder.Decode(batch.Files[row].Path).ToTensor());
                    Assert.True(batch.Images[row].sub(expected).abs().max().item<float>() == 0, $"row {row} of the batch at {batch.Start} is not {batch.Files[row].Name}");
                }
                Assert.Equal(batch.Files, batch.Indices.Select(i => files[i]));
                Assert.All(batch.Failures, f => Assert.Same(files[f.Index], f.File));
                seenFiles.AddRange(batch.Files);
                seenFailures.AddRange(batch.Failures);
            }
        }

        Assert.Equal([0, 6, 12, 18, 24, 30, 36], starts);
        Assert.Equal(files.Where((_, i) => i % 4 != 3).ToList(), seenFiles);
        Assert.Equal(files.Where((_, i) => i % 4 == 3).ToList(), seenFailures.Select(f => f.File).ToList());
        Assert.Contains("JPEG", seenFailures[0].Problem);
        Assert.Contains("not a JPEG, PNG", seenFailures[1].Problem);
        Assert.Contains("RLE-compressed", seenFailures[2].Problem);
    }

    [Fact]
    public void BatchOfOnlyUnreadableFilesIsEmptyNotFatal()
    {
        var files = ImageFile.Of([ReferenceImages.Path("text.jpg"), ReferenceImages.Path("empty.png"), ReferenceImages.Path("rgb.png")]);
        var batches = ImagePipeline.Batches(files, Small, new ImagePipelineOptions { BatchSize = 2, Workers = 2 }, TestContext.Current.CancellationToken).ToList();
        Assert.Equal([0L, 3, 16, 16], batches[0].Images.shape);
        Assert.Equal(2, batches[0].Failures.Count);
        Assert.Equal([files[2]], batches[1].Files);
        foreach (var b in batches) b.Dispose();
    }

    [Fact]
    public void LeavingEarlyStopsTheWorkers()
    {
        var files = ImageFile.Of(Enumerable.Repeat(ReferenceImages.Path("baseline.jpg"), 200));
        int taken = 0;
        foreach (var batch in ImagePipeline.Batches(files, Small, new ImagePipelineOptions { BatchSize = 4, Workers = 2, Prefetch = 1 }, TestContext.Current.CancellationToken))
        {
            batch.Dispose();
            if (++taken == 2) break;
        }
        Assert.Equal(2, taken);
    }

    [Fact]
    public void FolderIsListedInStableOrdinalOrderOfRelativePaths()
    {
        string folder = Support.TempFolder.Create("listing");
        foreach (var name in new[] { "b.jpg", "A.png", "sub/a.JPG", "a.txt", "sub/deeper/c.bmp", "a.jpeg" })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(folder, name))!);
            File.WriteAllText(Path.Combine(folder, name), "");
        }
        Assert.Equal(["A.png", "a.jpeg", "b.jpg", "sub/a.JPG", "sub/deeper/c.bmp"], ImageFile.List(folder).Select(f => f.Name));

        string list = Path.Combine(folder, "list.txt");
        File.WriteAllLines(list, ["# my images", "sub/a.JPG", "", "/abs/x.png", "b.jpg"]);
        var listed = ImageFile.List(list);
        Assert.Equal(["sub/a.JPG", "/abs/x.png", "b.jpg"], listed.Select(f => f.Name));
        Assert.Equal(Path.Combine(folder, "sub/a.JPG"), listed[0].Path);
        Assert.Equal("/abs/x.png", listed[1].Path);
    }
}
