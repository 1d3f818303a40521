using System.Text.Json;
using System.Text.RegularExpressions;
using Backbones.Inspection;
using Backbones.Models;
using Backbones.Tests.Cli;
using Backbones.Tests.Support;

namespace Backbones.Tests.Inspection;

/// <summary>
/// The summary against real torchvision (every module call's type, output shape, parameters and torchinfo
/// mult-adds; totals; print(model)) and against torchinfo's published figures.
/// </summary>
public sealed partial class ModelSummaryTests
{
    const int Size = 96, Batch = 2;

    /// <summary>One model of each family, summarised by PyTorch once per test run.</summary>
    static readonly string[] Family =
        ["resnet50", "resnext50_32x4d", "alexnet", "vgg11_bn", "squeezenet1_0", "densenet121", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "convnext_tiny"];

    static readonly Lazy<JsonElement> Reference = new(() =>
    {
        string file = Path.Combine(TempFolder.Create("summary"), "summary.json");
        var (code, output, error) = PyTorch.RunScript("summary_reference.py", [file, .. Family, "--size", $"{Size}", "--batch", $"{Batch}"]);
        if (code != 0) throw new InvalidOperationException($"summary_reference.py failed ({code}):\n{output}\n{error}");
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        return doc.RootElement.Clone();
    });

    public static TheoryData<string> Models => new(Family);

    [Theory]
    [MemberData(nameof(Models))]
    public void EveryModuleCallMatchesTorchvision(string name)
    {
        PyTorch.Require();
        var expected = Reference.Value.GetProperty(name);
        using var model = ModelZoo.Create(name);
        var summary = ModelSummary.Create(model, Batch, [3, Size, Size]);

        var calls = expected.GetProperty("calls").EnumerateArray().ToList();
        Assert.Equal(calls.Count, summary.Rows.Count);
        for (int i = 0; i < calls.Count; i++)
        {
            var want = calls[i];
            var row = summary.Rows[i];
            string where = $"{name} call {i} ({want.GetProperty("path").GetString()})";
            Assert.True(want.GetProperty("path").GetString() == row.Path, $"{where}: path {row.Path}");
            Assert.True(want.GetProperty("type").GetString() == row.Type, $"{where}: type {row.Type}");
            Assert.True(want.GetProperty("output_shape").EnumerateArray().Select(d => d.GetInt64()).SequenceEqual(row.OutputShape),
                $"{where}: output shape [{string.Join(", ", row.OutputShape)}]");
            Assert.True(want.GetProperty("params").GetInt64() == row.Params, $"{where}: params {row.Params}");
            if (row.IsLeaf) Assert.True(want.GetProperty("mult_adds").GetInt64() == row.MultAdds, $"{where}: mult-adds {row.MultAdds}");
        }
        Assert.Equal(expected.GetProperty("params").GetInt64(), summary.Totals.Params);
        Assert.Equal(expected.GetProperty("trainable").GetInt64(), summary.Totals.TrainableParams);
        Assert.Equal(calls.Sum(c => c.GetProperty("mult_adds").GetInt64()), summary.Totals.MultAdds);
        // A container's mult-adds are its leaves'.
        Assert.Equal(summary.Totals.MultAdds, summary.Rows[0].MultAdds);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void PrintsTheModuleTreeAsPyTorchDoes(string name)
    {
        PyTorch.Require();
        using var model = ModelZoo.Create(name);
        string expected = Reference.Value.GetProperty(name).GetProperty("repr").GetString()! + "\n";
        // The one spelling a built module cannot know: whether torchvision wrote output_size=1 or (1, 1).
        expected = ScalarOutputSize().Replace(expected, m => $"output_size=({m.Groups[1].Value}, {m.Groups[1].Value}))");
        var want = expected.Split('\n');
        var got = ModuleTree.Format(model).Split('\n');
        int first = Enumerable.Range(0, Math.Min(want.Length, got.Length)).FirstOrDefault(i => want[i] != got[i], -1);
        Assert.True(first < 0 && want.Length == got.Length,
            first < 0 ? $"{name}: {got.Length} lines, torchvision {want.Length}" : $"{name} line {first + 1}:\n  torchvision: {want[first]}\n  ours:        {got[first]}");
    }

    [Theory]
    [InlineData("resnet50", 25_557_032, 4.09e9)]
    [InlineData("resnet18", 11_689_512, 1.81e9)]
    public void TotalsMatchTorchinfoFiguresAt224(string name, long parameters, double multAdds)
    {
        using var model = ModelZoo.Create(name);
        var totals = ModelSummary.Create(model).Totals;
        Assert.Equal(parameters, totals.Params);
        Assert.InRange(totals.MultAdds, multAdds * 0.99, multAdds * 1.01);
        Assert.Equal(parameters * 4 / 1e6, totals.ParamMegabytes, 6);
    }

    [Fact]
    public void FrozenParametersAreCountedAsNotTrainable()
    {
        using var model = ModelZoo.Create("resnet18");
        foreach (var (key, p) in model.named_parameters()) if (!key.StartsWith("fc.", StringComparison.Ordinal)) p.requires_grad = false;
        var summary = ModelSummary.Create(model, 1, [3, 64, 64]);
        Assert.Equal(512 * 1000 + 1000, summary.Totals.TrainableParams);
        var layer1 = summary.Rows.Single(r => r.Path == "layer1");
        Assert.Equal(0, layer1.TrainableParams);
        Assert.True(summary.Rows[0].TrainableParams > 0 && summary.Rows[0].TrainableParams < summary.Rows[0].Params);
    }

    [Fact]
    public void CliJsonHasTheDocumentedSchema()
    {
        var (code, output, error) = CliRunner.Run("summary", "resnet18", "--input", "3x64x64", "--batch", "2", "--depth", "1", "--json");
        Assert.True(code == 0, error);
        using var doc = JsonDocument.Parse(output);
        var rows = doc.RootElement.GetProperty("rows").EnumerateArray().ToList();
        // The model and its ten children (relu called once at the top level).
        Assert.Equal(["", "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"],
            rows.Select(r => r.GetProperty("path").GetString()));
        var fc = rows.Last();
        Assert.Equal("Linear", fc.GetProperty("type").GetString());
        Assert.Equal([2L, 1000L], fc.GetProperty("output_shape").EnumerateArray().Select(d => d.GetInt64()));
        Assert.Equal(513_000, fc.GetProperty("params").GetInt64());
        Assert.True(fc.GetProperty("trainable").GetBoolean());
        Assert.Equal(2 * 513_000, fc.GetProperty("mult_adds").GetInt64());
        var layer1 = rows.Single(r => r.GetProperty("path").GetString() == "layer1");
        Assert.Equal([2L, 64L, 16L, 16L], layer1.GetProperty("output_shape").EnumerateArray().Select(d => d.GetInt64()));
        var totals = doc.RootElement.GetProperty("totals");
        Assert.Equal(11_689_512, totals.GetProperty("params").GetInt64());
        Assert.Equal(11_689_512, totals.GetProperty("trainable_params").GetInt64());
        Assert.Equal(rows.Skip(1).Sum(r => r.GetProperty("mult_adds").GetInt64()), totals.GetProperty("mult_adds").GetInt64());
        Assert.Equal(46.758048, totals.GetProperty("param_mb").GetDouble(), 4);
        Assert.True(totals.GetProperty("activation_mb").GetDouble() > 0);
    }

    [Fact]
    public void CliTableEndsWithTorchinfoTotals()
    {
        var (code, output, error) = CliRunner.Run("summary", "resnet50");
        Assert.True(code == 0, error);
        Assert.Contains("total params: 25,557,032", output);
        Assert.Contains("total mult-adds (G): 4.09", output);
        Assert.Matches(@"(?m)^  0: Bottleneck\s+\[1, 256, 56, 56\]\s+--", output);
        Assert.Matches(@"(?m)^    conv1: Conv2d\s+\[1, 64, 56, 56\]\s+4,096\s+True\s+12,845,056$", output);
    }

    [Fact]
    public void CliTreeIsThePrintout()
    {
        var (code, output, _) = CliRunner.Run("summary", "alexnet", "--tree");
        Assert.Equal(0, code);
        Assert.StartsWith("AlexNet(\n  (features): Sequential(\n    (0): Conv2d(3, 64, kernel_size=(11, 11), stride=(4, 4), padding=(2, 2))\n", output);
    }

    [Fact]
    public void CliRefusesADepthBelowOne()
    {
        var (code, _, error) = CliRunner.Run("summary", "resnet18", "--depth", "0");
        Assert.NotEqual(0, code);
        Assert.Contains("--depth must be at least 1", error);
    }

    [GeneratedRegex(@"output_size=(\d+)\)")]
    private static partial Regex ScalarOutputSize();
}
