using System.Text.Json;
using Backbones.Cli;
using Backbones.Detection;
using Backbones.Tests.Support;
using Backbones.Vision;
using Backbones.Weights;
using static TorchSharp.torch;

namespace Backbones.Tests.Cli;

/// <summary>
/// <c>detect</c>'s parsing and output with a stand-in detector (the model is tested on its own): exact JSON and text,
/// pictures, the images it is given, bad input, and the clear refusal while no detector is built in.
/// </summary>
public sealed class DetectCommandTests
{
    static readonly IReadOnlyList<string> CocoNames = WeightsCatalogue.Find("keypointrcnn_resnet50_fpn", "COCO_V1")!.KeypointNames;

    /// <summary>
    /// Per image two people: (1.5, 2.25)–(W − 1, H − 1.5) scoring 0.875 and (0, 0)–(4, 4) scoring 0.25; keypoint j at
    /// (10 + j, 20 + j) with heatmap score j + 0.5. Records what it was given.
    /// </summary>
    sealed class StandInDetector(IReadOnlyList<string> keypointNames) : IDetector
    {
        public List<(long[] Shape, ScalarType Type, float First, float Min, float Max)> Seen { get; } = [];
        public (string Model, string? Weights) Built { get; set; }
        public bool Disposed { get; private set; }

        public IReadOnlyList<string> Categories { get; } = ["no person", "person"];

        public IReadOnlyList<string> KeypointNames => keypointNames;

        public IReadOnlyList<IReadOnlyDictionary<string, Tensor>> Detect(IReadOnlyList<Tensor> images) => images.Select(image =>
        {
            Seen.Add((image.shape, image.dtype, image[0, 0, 0].item<float>(), image.min().item<float>(), image.max().item<float>()));
            float w = image.shape[2], h = image.shape[1];
            int k = keypointNames.Count;
            var points = Enumerable.Range(0, k).SelectMany(j => new[] { 10f + j, 20f + j, 1f });
            return (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor>
            {
                ["boxes"] = tensor(new[] { 1.5f, 2.25f, w - 1, h - 1.5f, 0, 0, 4, 4 }).view(2, 4),
                ["labels"] = tensor(new long[] { 1, 1 }),
                ["scores"] = tensor(new[] { 0.875f, 0.25f }),
                ["keypoints"] = tensor(points.Concat(points).ToArray()).view(2, k, 3),
                ["keypoints_scores"] = tensor(Enumerable.Range(0, k).Select(j => j + 0.5f).Concat(new float[k]).ToArray()).view(2, k),
            };
        }).ToList();

        public void Dispose() => Disposed = true;
    }

    static (int Code, string Output, string Error) Run(StandInDetector detector, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = BackbonesCli.Run(args, output, error, (model, weights) =>
        {
            detector.Built = (model, weights);
            return detector;
        });
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>A PNG of <paramref name="width"/>×<paramref name="height"/> whose first red sample is 51 (0.2 once scaled) and the rest mid-grey.</summary>
    static string Png(string folder, string name, int width, int height)
    {
        var rgb = Enumerable.Repeat((byte)128, width * height * 3).ToArray();
        rgb[0] = 51;
        string path = Path.Combine(folder, name);
        Heatmap.WritePng(path, rgb, width, height);
        return path;
    }

    [Fact]
    public void JsonListsEachImagesDetectionsAboveTheScore()
    {
        string folder = TempFolder.Create("detect");
        string a = Png(folder, "a.png", 64, 48), b = Png(folder, "b.png", 40, 30);
        var detector = new StandInDetector(CocoNames);
        var (code, output, error) = Run(detector, "detect", "keypointrcnn_resnet50_fpn", "--weights", "COCO_V1", a, b, "--score", "0.5", "--json");
        Assert.True(code == 0, error);
        string keypoints = string.Join(",", Enumerable.Range(0, 17).Select(j => $"[{10 + j},{20 + j},{j}.5]"));
        string expected = $$"""[{"image":"{{a}}","detections":[{"box":[1.5,2.25,63,46.5],"score":0.875,"label":"person","keypoints":[{{keypoints}}]}]},""" +
            $$"""{"image":"{{b}}","detections":[{"box":[1.5,2.25,39,28.5],"score":0.875,"label":"person","keypoints":[{{keypoints}}]}]}]""";
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(expected, JsonSerializer.Serialize(doc.RootElement));
        Assert.Equal(("keypointrcnn_resnet50_fpn", "COCO_V1"), detector.Built);
        Assert.True(detector.Disposed);
        // Each image decoded upright and given as 3×H×W float32 in [0, 1].
        Assert.Equal([3L, 48, 64], detector.Seen[0].Shape);
        Assert.Equal([3L, 30, 40], detector.Seen[1].Shape);
        Assert.All(detector.Seen, s => Assert.Equal((ScalarType.Float32, 0.2f, 0.2f, 128 / 255f), (s.Type, s.First, s.Min, s.Max)));
    }

    [Fact]
    public void TextShowsBoxesAndNamedKeypointsAndPicturesGoToTheFolder()
    {
        string folder = TempFolder.Create("detect");
        string a = Png(folder, "a.png", 64, 48);
        string other = Directory.CreateDirectory(Path.Combine(folder, "other")).FullName;
        string a2 = Png(other, "a.png", 64, 48);
        string pictures = Path.Combine(folder, "out");
        var (code, output, error) = Run(new StandInDetector(["nose", "left_eye"]), "detect", "keypointrcnn_resnet50_fpn", a, a2, "-o", pictures, "--score", "0.2");
        Assert.True(code == 0, error);
        string Block(string image, string picture) =>
            $"{image}: 64×48, 2 detections scoring at least 0.2\n" +
            "  person 0.875  box 1.5 2.2 63.0 46.5\n" +
            "    nose               10.0    20.0  score 0.50\n" +
            "    left_eye           11.0    21.0  score 1.50\n" +
            "  person 0.250  box 0.0 0.0 4.0 4.0\n" +
            "    nose               10.0    20.0  score 0.00\n" +
            "    left_eye           11.0    21.0  score 0.00\n" +
            $"  picture: {picture}\n";
        string first = Path.Combine(pictures, "a.png"), second = Path.Combine(pictures, "a-2.png");
        Assert.Equal(Block(a, first) + Block(a2, second), output);
        foreach (string picture in new[] { first, second })
        {
            var drawn = ImageDecoder.Decode(picture);
            Assert.Equal((64, 48), (drawn.Width, drawn.Height));
            // The best box's outline starts at pixel (1, 2), in the first box colour; the lower-left corner is untouched.
            Assert.Equal(((byte)31, (byte)119, (byte)180), (drawn.Pixels8![(2 * 64 + 1) * 3], drawn.Pixels8[(2 * 64 + 1) * 3 + 1], drawn.Pixels8[(2 * 64 + 1) * 3 + 2]));
            Assert.Equal(128, drawn.Pixels8[(47 * 64 + 0) * 3]);
        }
    }

    [Fact]
    public void WithoutABuiltInDetectorItSaysItIsNotYetAvailable()
    {
        string image = Png(TempFolder.Create("detect"), "a.png", 8, 8);
        var (code, output, error) = CliRunner.Run("detect", "keypointrcnn_resnet50_fpn", image);
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Equal("error: backbones detect is not yet available: no detector is built in yet (keypointrcnn_resnet50_fpn is being assembled, issue 8)",
            error.Trim());
    }

    [Fact]
    public void NamesAnUnknownDetectorOrWeightsAndAScoreOutOfRange()
    {
        string image = Png(TempFolder.Create("detect"), "a.png", 8, 8);
        var detector = new StandInDetector(CocoNames);
        var (code, _, error) = Run(detector, "detect", "resnet50", image);
        Assert.Equal((2, "error: 'resnet50' is not a detector; the detectors are keypointrcnn_resnet50_fpn"), (code, error.Trim()));
        (code, _, error) = Run(detector, "detect", "keypointrcnn_resnet50_fpn", "--weights", "COCO_V2", image);
        Assert.Equal((2, "error: 'COCO_V2' is neither a weights set of keypointrcnn_resnet50_fpn (DEFAULT, COCO_V1, COCO_LEGACY) nor an existing file"),
            (code, error.Trim()));
        (code, _, error) = Run(detector, "detect", "keypointrcnn_resnet50_fpn", "--score", "1.5", image);
        Assert.Equal((2, "error: --score must be between 0 and 1, got 1.5"), (code, error.Trim()));
        Assert.Empty(detector.Seen);
    }

    [Fact]
    public void UnreadableImageIsReportedAndTheOthersStillDetected()
    {
        string folder = TempFolder.Create("detect");
        string good = Png(folder, "good.png", 16, 12), bad = Path.Combine(folder, "bad.jpg");
        File.WriteAllText(bad, "not an image");
        var (code, output, error) = Run(new StandInDetector(["nose"]), "detect", "keypointrcnn_resnet50_fpn", bad, good, "--json");
        Assert.Equal(2, code);
        Assert.StartsWith($"error: {bad}: not a JPEG, PNG, GIF, WebP or BMP file", error);
        using var doc = JsonDocument.Parse(output);
        var images = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal([bad, good], images.Select(i => i.GetProperty("image").GetString()));
        Assert.StartsWith("not a JPEG", images[0].GetProperty("error").GetString());
        Assert.Equal(1, images[1].GetProperty("detections").GetArrayLength());
    }
}
