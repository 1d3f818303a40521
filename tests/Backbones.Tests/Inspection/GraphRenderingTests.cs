using Backbones.Inspection;
using Backbones.Models;
using Backbones.Tests.Support;
using Backbones.Vision;

namespace Backbones.Tests.Inspection;

/// <summary>
/// The DOT text and what real tools make of it: Graphviz's dot lays it out without complaint, and headless Chromium
/// draws the SVG with boxes and text. Each part is skipped, saying so, when its tool is not installed.
/// </summary>
public sealed class GraphRenderingTests
{
    static string RequireDot() =>
        Graphviz.FindDot() ?? Skip<string>("Graphviz's dot is not on PATH (Debian: apt-get install graphviz); the DOT text was not laid out");

    static T Skip<T>(string message)
    {
        Assert.Skip(message);
        return default!;
    }

    static string Dot(string name, int depth, long size = 224)
    {
        using var model = ModelZoo.Create(name);
        return DotWriter.Write(ModelGraph.Build(model, new ModelGraphOptions { Depth = depth, InputShape = [3, size, size] }));
    }

    [Fact]
    public void QuotesEscapeBackslashesQuotesAndLineBreaks()
    {
        Assert.Equal("\"a\\\"b\\\\N\\nc\"", DotWriter.Quote("a\"b\\N\nc"));
    }

    [Fact]
    public void DotTextNamesClustersAndNodesInForwardOrder()
    {
        var text = Dot("resnet18", 3);
        Assert.StartsWith("digraph \"resnet18\" {\n  graph [rankdir=TB", text.ReplaceLineEndings("\n"));
        Assert.Contains("  n0 [label=\"input\\n[1, 3, 224, 224]\", shape=oval", text);
        Assert.Contains("  subgraph cluster_1 {\n      label=\"layer1.0\\nBasicBlock\";", text.ReplaceLineEndings("\n"));
        Assert.Contains("n7 [label=\"layer1.0.relu (1)\\nReLU\\n[1, 64, 56, 56]\"", text);
        // The same model gives the same text.
        Assert.Equal(text, Dot("resnet18", 3));
    }

    [Theory]
    [InlineData("resnet18", 3)]
    [InlineData("densenet121", 3)]
    [InlineData("mobilenet_v3_small", 3)]
    [InlineData("convnext_tiny", 1)]
    public void DotLaysOutTheGraph(string name, int depth)
    {
        string dot = RequireDot();
        string folder = TempFolder.Create("graph-dot");
        string input = Path.Combine(folder, $"{name}.dot"), output = Path.Combine(folder, $"{name}.svg");
        File.WriteAllText(input, Dot(name, depth, 96));
        var (code, _, error) = PyTorch.Run(dot, ["-Tsvg", input, "-o", output], 300);
        Assert.True(code == 0, $"dot -Tsvg exited with {code}: {error}");
        Assert.Equal("", error.Trim());
        Assert.StartsWith("<?xml", File.ReadAllText(output));
    }

    [Fact]
    public void RendererReportsDotsOwnError()
    {
        string dot = RequireDot();
        string output = Path.Combine(TempFolder.Create("graph-dot"), "broken.svg");
        var e = Assert.Throws<InvalidOperationException>(() => Graphviz.Render("digraph { a -> ; }", output, dot: dot));
        Assert.Contains("-Tsvg failed with exit code 1: Error: <stdin>: syntax error in line 1", e.Message);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void DotIsNotFoundOnAnEmptySearchPath()
    {
        Assert.Null(Graphviz.FindDot(""));
        Assert.Null(Graphviz.FindDot(TempFolder.Create("no-dot")));
    }

    /// <summary>Chromium's binary on PATH, or null.</summary>
    static string? FindChromium() =>
        new[] { "chromium", "chromium-browser", "google-chrome" }
            .SelectMany(name => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(d, name)))
            .FirstOrDefault(File.Exists);

    [Fact]
    public void SvgDrawsBoxesAndTextInHeadlessChromium()
    {
        string dot = RequireDot();
        string chromium = FindChromium() ?? Skip<string>("Chromium is not on PATH (Debian: apt-get install chromium); the SVG was not looked at in a browser");
        string folder = TempFolder.Create("graph-chromium");
        string svg = Path.Combine(folder, "resnet18.svg"), png = Path.Combine(folder, "resnet18.png");
        using (var model = ModelZoo.Create("resnet18"))
            Graphviz.Render(DotWriter.Write(ModelGraph.Build(model, new ModelGraphOptions { Depth = 1 })), svg, dot: dot);

        const int width = 500, height = 1100;
        List<string> args = ["--headless", "--disable-gpu", "--hide-scrollbars", $"--user-data-dir={Path.Combine(folder, "profile")}",
            $"--screenshot={png}", $"--window-size={width},{height}", new Uri(svg).AbsoluteUri];
        if (Environment.UserName == "root") args.Insert(0, "--no-sandbox"); // Chromium refuses root without it
        var (code, _, error) = PyTorch.Run(chromium, args, 120);
        Assert.True(code == 0 && File.Exists(png), $"chromium exited with {code}: {error}");

        var image = ImageDecoder.Decode(png);
        Assert.Equal((width, height), (image.Width, image.Height));
        var pixels = image.Pixels8!;
        int Max(int i) => Math.Max(pixels[3 * i], Math.Max(pixels[3 * i + 1], pixels[3 * i + 2]));
        double inked = Enumerable.Range(0, width * height).Count(i => Math.Min(pixels[3 * i], Math.Min(pixels[3 * i + 1], pixels[3 * i + 2])) < 235) / (double)(width * height);
        // Rows with text or a box's outline: at least 8 dark pixels (an arrow's shaft has 1 or 2), counted as separate bands
        // of consecutive rows. 13 nodes of 2 or 3 lines of text each, their outlines and the title give about 70 here.
        var darkRows = Enumerable.Range(0, height).Select(y => Enumerable.Range(0, width).Count(x => Max(y * width + x) < 110) >= 8).ToList();
        int bands = darkRows.Where((dark, y) => dark && (y == 0 || !darkRows[y - 1])).Count();
        TestContext.Current.TestOutputHelper?.WriteLine($"non-white share {inked:P1}, dark bands {bands}");
        Assert.True(inked > 0.05, $"only {inked:P1} of the screenshot is not white");
        Assert.True(bands >= 40, $"only {bands} separate bands of dark rows (text and boxes) in the screenshot");
    }
}
