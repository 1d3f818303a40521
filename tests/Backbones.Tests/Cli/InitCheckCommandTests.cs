using System.Text.Json;

namespace Backbones.Tests.Cli;

/// <summary>
/// <c>init-check</c>: the per-layer table of a fresh MLP or zoo model, with where activations vanish or overflow.
/// Expected rows follow from the schemes' variances (see ActivationStatisticsTests for the derivations).
/// </summary>
public sealed class InitCheckCommandTests
{
    [Fact]
    public void ReportsTheCollapseOfATanhMlpWithNormal001()
    {
        var (code, output, error) = CliRunner.Run("init-check", "--init", "normal001", "--mlp-depth", "20", "--batch", "64");
        Assert.True(code == 0, error);
        var lines = output.Split('\n');
        Assert.Equal("MLP of 20 Linear(256, 256) + tanh; init normal-0.01 (weights normal_(0, 0.01), biases 0); input N(0, 1) [64, 256], seed 0", lines[0]);
        Assert.Equal(1 + 1 + 40 + 4, lines.Count(l => l.Length > 0)); // header, column titles, 40 rows, 4 summary lines
        // Each layer scales the std by sqrt(256) * 0.01 = 0.16: under 1e-6 first at the 8th Linear (0.16^8 = 4.3e-7), row 14.
        Assert.Contains("vanished (std < 1e-6 x input std) first at row 14, 14 (Linear)", output);
        Assert.Contains("all outputs finite", output);
        Assert.Matches(@"\n +14  14 +Linear +\[64, 256\] +\S+ +[34]\.\d{3}e-07 ", output);
    }

    [Fact]
    public void JsonNamesTheFirstLayerWhereAReluMlpWithNormal1Overflows()
    {
        var (code, output, error) = CliRunner.Run("init-check", "--activation", "relu", "--init", "normal1", "--mlp-depth", "50", "--batch", "64", "--json");
        Assert.True(code == 0, error);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        var layers = root.GetProperty("layers").EnumerateArray().ToList();
        Assert.Equal(100, layers.Count);
        // std of the k-th Linear 16 * sqrt(128)^(k-1); its largest of 16,384 draws (4.3 std) passes 3.4e38 at k = 36 (row 70).
        int first = root.GetProperty("first_non_finite").GetInt32();
        Assert.InRange(first / 2 + 1, 35, 38);
        Assert.Equal("Linear", layers[first].GetProperty("type").GetString());
        Assert.Equal(0, layers[first - 1].GetProperty("non_finite").GetInt64());
        Assert.True(layers[first].GetProperty("non_finite").GetInt64() > 0);
        Assert.Equal("NaN", layers[^1].GetProperty("std").GetString());
        Assert.Equal(10, root.GetProperty("first_exploded").GetInt32()); // 16 * 11.3^5 = 2.9e6 > 1e6
        Assert.Equal(JsonValueKind.Null, root.GetProperty("first_vanished").ValueKind);
        Assert.Equal("normal-1 (weights normal_(0, 1), biases 0)", root.GetProperty("init").GetString());
    }

    [Fact]
    public void ChecksAZooModelWithAChosenPolicy()
    {
        var (code, output, error) = CliRunner.Run("init-check", "resnet18", "--init", "kaiming", "--input", "3x64x64", "--batch", "2");
        Assert.True(code == 0, error);
        var lines = output.Split('\n');
        Assert.StartsWith("resnet18; init kaiming-normal-fan-in-relu (weights kaiming_normal_(mode=fan_in, nonlinearity=relu), biases 0); input N(0, 1) [2, 3, 64, 64], seed 0", lines[0]);
        Assert.Matches(@"^ +0  conv1 +Conv2d +\[2, 64, 32, 32\] ", lines[2]);
        Assert.Contains(lines, l => l.Contains(" fc ") && l.Contains("[2, 1000]"));
    }

    [Theory]
    [InlineData("unknown --init 'he'; known: xavier, kaiming, normal001, normal1, default", "init-check", "--init", "he")]
    [InlineData("--input '3x64' is not C×H×W such as 3x224x224", "init-check", "resnet18", "--input", "3x64")]
    [InlineData("unknown --activation 'gelu'; known: tanh, relu", "init-check", "--activation", "gelu")]
    [InlineData("--mlp-depth and --width describe the built-in MLP; leave them out with a zoo model", "init-check", "resnet18", "--mlp-depth", "5")]
    public void RefusesBadOptionsWithExitCode2(string message, params string[] args)
    {
        var (code, output, error) = CliRunner.Run(args);
        Assert.Equal(2, code);
        Assert.Equal("error: " + message, error.Trim());
        Assert.Equal("", output);
    }

    [Fact]
    public void RefusesAnUnknownModelNamingTheKnownOnes()
    {
        var (code, _, error) = CliRunner.Run("init-check", "resnet19");
        Assert.Equal(1, code);
        Assert.StartsWith("error: unknown model 'resnet19'; known: alexnet,", error.Trim());
    }
}
