using Backbones.Inspection;
using Backbones.Tests.Support;

namespace Backbones.Tests.Cli;

/// <summary><c>graph</c>: SVG through Graphviz, DOT without it, and clear errors for a bad model or file name.</summary>
public sealed class GraphCommandTests
{
    // ResNet-18 at depth 3: 6 top-level calls (conv1, bn1, relu, maxpool, avgpool, fc) + 8 blocks × 6 (conv1, bn1, relu,
    // conv2, bn2, relu) + 3 downsamples = 57 calls; 8 Adds + the flatten = 9 operators; 4 layers + 8 blocks = 12 clusters;
    // edges: 4 in the stem, 8 per plain block and 9 per downsampling one (5 × 8 + 3 × 9), 4 from layer4 to the output = 75.
    const string ResNet18Summary = "resnet18 at depth 3: 57 module calls, 9 operators, 75 edges, 12 clusters";

    [Fact]
    public void GraphWritesAnSvgWithTheModulePaths()
    {
        if (Graphviz.FindDot() is null) Assert.Skip("Graphviz's dot is not on PATH (Debian: apt-get install graphviz); no SVG can be made");
        string svg = Path.Combine(TempFolder.Create("cli-graph"), "resnet18.svg");
        var (code, output, error) = CliRunner.Run("graph", "resnet18", "-o", svg);
        Assert.True(code == 0, error);
        Assert.Equal($"wrote {svg}: {ResNet18Summary}", output.Trim());
        string text = File.ReadAllText(svg);
        Assert.True(text.StartsWith("<?xml", StringComparison.Ordinal) || text.StartsWith("<svg", StringComparison.Ordinal), text[..Math.Min(80, text.Length)]);
        Assert.Contains("<svg", text);
        Assert.Contains(">layer1.0.conv1</text>", text);
        Assert.Contains(">layer1.0</text>", text);
    }

    [Fact]
    public void GraphWritesDotAtTheRequestedDepth()
    {
        string path = Path.Combine(TempFolder.Create("cli-graph"), "resnet18.dot");
        var (code, output, error) = CliRunner.Run("graph", "resnet18", "-o", path, "--depth", "1", "--input", "3x64x64");
        Assert.True(code == 0, error);
        // Depth 1: the 10 top-level calls and the flatten, a chain of 12 edges from input to output, no clusters.
        Assert.Equal($"wrote {path}: resnet18 at depth 1: 10 module calls, 1 operators, 12 edges, 0 clusters", output.Trim());
        string text = File.ReadAllText(path);
        Assert.StartsWith("digraph \"resnet18\" {", text);
        Assert.Contains("n5 [label=\"layer1\\nSequential\\n[1, 64, 16, 16]\"", text);
        Assert.DoesNotContain("subgraph", text);
    }

    [Fact]
    public void GraphNamesAnUnknownModel()
    {
        string path = Path.Combine(TempFolder.Create("cli-graph"), "x.dot");
        var (code, _, error) = CliRunner.Run("graph", "resnet19", "-o", path);
        Assert.Equal(1, code);
        Assert.StartsWith("error: unknown model 'resnet19'; known: alexnet,", error.Trim());
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void GraphRefusesAnotherFileType()
    {
        string path = Path.Combine(TempFolder.Create("cli-graph"), "x.png");
        var (code, _, error) = CliRunner.Run("graph", "resnet18", "-o", path);
        Assert.Equal(2, code);
        Assert.Equal($"error: -o {path}: the file must end in .svg or .dot", error.Trim());
        Assert.False(File.Exists(path));
    }

    /// <summary>The command as its own process with a PATH that has no dot (and nothing else), as on a machine without Graphviz.</summary>
    [Fact]
    public void GraphWithoutGraphvizWritesTheDotFileAndSaysSo()
    {
        string cli = Path.Combine(Repository.Root, "src", "Backbones.Cli", "bin", Repository.Configuration, "net10.0", "backbones.dll");
        Assert.True(File.Exists(cli), $"{cli} not built");
        string dotnet = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Select(d => Path.Combine(d, "dotnet")).FirstOrDefault(File.Exists)
            ?? Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        string folder = TempFolder.Create("cli-graph");
        string svg = Path.Combine(folder, "resnet18.svg"), dot = Path.Combine(folder, "resnet18.dot");
        var (code, output, error) = PyTorch.Run(dotnet, [cli, "graph", "resnet18", "-o", svg], 300,
            new Dictionary<string, string> { ["PATH"] = TempFolder.Create("empty-path") });
        Assert.Equal(1, code);
        Assert.Equal($"wrote {dot}: {ResNet18Summary}", output.Trim());
        Assert.Equal($"error: Graphviz's dot is not on PATH (Debian: apt-get install graphviz), so {svg} was not made; "
            + $"the graph is in {dot} (render it with: dot -Tsvg {dot} -o {svg})", error.Trim());
        Assert.False(File.Exists(svg));
        Assert.StartsWith("digraph \"resnet18\" {", File.ReadAllText(dot));
    }
}
