using System.Text.Json;
using Backbones.Models;
using Backbones.Serialization;
using Backbones.Tests.Support;
using Backbones.Transfer;

namespace Backbones.Tests.Cli;

public class LoadCommandTests
{
    /// <summary>A DataParallel checkpoint of a 1000-class ResNet-18, wrapped as training scripts save it.</summary>
    static (string Path, Backbone Source) WrappedCheckpoint(string folder)
    {
        var source = ModelZoo.Create("resnet18");
        using var state = new StateDict();
        foreach (var (key, value) in source.OrderedStateDict()) state.Add("module." + key, value.detach().clone());
        string path = Path.Combine(folder, "wrapped.safetensors");
        state.Save(path);
        return (path, source);
    }

    [Fact]
    public void LoadsWithRulesReportsAndWritesTheResult()
    {
        string folder = TempFolder.Create("load-cli");
        var (path, source) = WrappedCheckpoint(folder);
        using var _ = source;
        string written = Path.Combine(folder, "ten_classes.pth");

        var (code, output, error) = CliRunner.Run("load", "resnet18", path, "--num-classes", "10", "--strip-prefix", "module.", "--skip", "fc.*", "-o", written);

        Assert.True(code == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("loaded 120, skipped 2, missing 2, unexpected 0, shape-mismatched 0", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("skipped") && l.Contains("module.fc.weight") && l.Contains("matches 'fc.*'"));
        Assert.Contains(lines, l => l.StartsWith("missing") && l.Contains("fc.bias"));
        using var result = StateDict.Load(written);
        Assert.Equal([10L, 512], result["fc.weight"].shape);
        var conv = source.OrderedStateDict().Single(kv => kv.Key == "layer3.1.conv2.weight").Value;
        Assert.True(conv.eq(result["layer3.1.conv2.weight"]).all().item<bool>());
    }

    [Fact]
    public void JsonReportPairsKeysByPosition()
    {
        string folder = TempFolder.Create("load-cli-json");
        var (path, source) = WrappedCheckpoint(folder);
        using var _ = source;

        var (code, output, error) = CliRunner.Run("load", "resnet18", path, "--by-position", "--up-to", "layer4.1.bn2.num_batches_tracked", "--json");

        Assert.True(code == 0, error);
        using var doc = JsonDocument.Parse(output);
        var loaded = doc.RootElement.GetProperty("loaded");
        Assert.Equal(120, loaded.GetArrayLength());
        Assert.Equal("conv1.weight", loaded[0].GetProperty("key").GetString());
        Assert.Equal("module.conv1.weight", loaded[0].GetProperty("source").GetString());
        Assert.Equal(["module.fc.weight", "module.fc.bias"], doc.RootElement.GetProperty("unexpected").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["fc.weight", "fc.bias"], doc.RootElement.GetProperty("missing").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void StrictLoadOfAMismatchedHeadFailsNamingIt()
    {
        string folder = TempFolder.Create("load-cli-strict");
        var (path, source) = WrappedCheckpoint(folder);
        using var _ = source;

        var (code, _, error) = CliRunner.Run("load", "resnet18", path, "--num-classes", "5", "--strip-prefix", "module.", "--strict");

        Assert.Equal(1, code);
        Assert.Contains("fc.weight (model [5, 512], file [1000, 512])", error);
    }

    [Fact]
    public void CountWithoutByPositionIsAUsageError()
    {
        var (code, _, error) = CliRunner.Run("load", "resnet18", "x.pth", "--count", "3");
        Assert.Equal(2, code);
        Assert.Equal("error: --count and --up-to only apply with --by-position", error.Trim());
    }
}
