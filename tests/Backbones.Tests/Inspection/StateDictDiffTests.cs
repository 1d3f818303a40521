using System.Text.Json;
using Backbones.Tests.Cli;
using Backbones.Tests.Support;

namespace Backbones.Tests.Inspection;

/// <summary><c>backbones diff</c> on checkpoints written by real PyTorch with known differences, and against a zoo model.</summary>
public sealed class StateDictDiffTests
{
    static readonly Lazy<(string Folder, JsonElement Expected)> Files = new(() =>
    {
        string folder = TempFolder.Create("diff");
        var (code, output, error) = PyTorch.RunScript("diff_reference.py", folder);
        if (code != 0) throw new InvalidOperationException($"diff_reference.py failed ({code}):\n{output}\n{error}");
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "expected.json")));
        return (folder, doc.RootElement.Clone());
    });

    static string FilePath(string name) => Path.Combine(Files.Value.Folder, name);

    static List<string> Strings(JsonElement e) => e.EnumerateArray().Select(x => x.GetString()!).ToList();

    [Fact]
    public void ListsExactlyWhatDiffersBetweenTwoCheckpoints()
    {
        PyTorch.Require();
        var expected = Files.Value.Expected;
        var (code, output, error) = CliRunner.Run("diff", FilePath("a.pth"), FilePath("b.pth"), "--json");
        Assert.True(code == 1, $"exit {code}: {error}");
        using var doc = JsonDocument.Parse(output);
        var got = doc.RootElement;
        Assert.False(got.GetProperty("identical").GetBoolean());
        Assert.Equal(Strings(expected.GetProperty("only_in_a")), Strings(got.GetProperty("only_in_a")));
        Assert.Equal(Strings(expected.GetProperty("only_in_b")), Strings(got.GetProperty("only_in_b")));
        var mismatched = got.GetProperty("mismatched").EnumerateArray().ToList();
        Assert.Equal(Strings(expected.GetProperty("mismatched")), mismatched.Select(m => m.GetProperty("key").GetString()!));
        var fcBias = mismatched.Single(m => m.GetProperty("key").GetString() == "fc.bias");
        Assert.Equal(("float32", "float64"), (fcBias.GetProperty("dtype_a").GetString(), fcBias.GetProperty("dtype_b").GetString()));
        var fcWeight = mismatched.Single(m => m.GetProperty("key").GetString() == "fc.weight");
        Assert.Equal([10L, 512L], fcWeight.GetProperty("shape_b").EnumerateArray().Select(d => d.GetInt64()));

        var want = expected.GetProperty("max_abs_diff").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble());
        var common = got.GetProperty("common").EnumerateArray().ToDictionary(c => c.GetProperty("key").GetString()!, c => c.GetProperty("max_abs_diff").GetDouble());
        Assert.Equal(want.Keys.Order(), common.Keys.Order());
        foreach (var (key, value) in want) Assert.True(value == common[key], $"{key}: {common[key]}, PyTorch {value}");
        Assert.Equal(0.25, common["layer1.0.conv1.weight"]);
    }

    [Fact]
    public void ACheckpointEqualToItselfIsIdentical()
    {
        PyTorch.Require();
        var (code, output, _) = CliRunner.Run("diff", FilePath("a.pth"), FilePath("a.pth"));
        Assert.Equal(0, code);
        Assert.Contains("common keys: 122, equal: 122, different: 0", output);
        Assert.EndsWith("identical", output.TrimEnd());
    }

    [Fact]
    public void AModelAgainstALargerArchitecturesCheckpoint()
    {
        PyTorch.Require();
        var (code, output, error) = CliRunner.Run("diff", "resnet18", FilePath("resnet34.pth"), "--json");
        Assert.True(code == 1, error);
        using var doc = JsonDocument.Parse(output);
        Assert.Empty(doc.RootElement.GetProperty("only_in_a").EnumerateArray());
        Assert.Equal(Strings(Files.Value.Expected.GetProperty("resnet34_only")), Strings(doc.RootElement.GetProperty("only_in_b")));
        Assert.Equal("resnet18 (fresh initialisation)", doc.RootElement.GetProperty("a").GetString());
    }

    [Fact]
    public void NeitherFileNorModelIsAClearError()
    {
        var (code, _, error) = CliRunner.Run("diff", "no_such_model", "resnet18");
        Assert.Equal(2, code);
        Assert.Contains("'no_such_model' is neither a file nor a model name", error);
    }
}
