using System.Text.Json;
using Backbones.Tests.Support;

namespace Backbones.Tests.Samples;

/// <summary>Recipe 4: a DenseNet-121 checkpoint with its classifier dropped, re-saved, and loaded by real PyTorch.</summary>
public class DropClassifierSampleTests
{
    [Fact]
    public void TorchvisionLoadsTheHeadlessDenseNetMissingOnlyTheClassifier()
    {
        PyTorch.Require();
        string folder = TempFolder.Create("sample-densenet");
        var (code, output, error) = PyTorch.RunScript("write_torchvision_state_dicts.py", folder, "densenet121");
        Assert.True(code == 0, output + error);
        string original = Path.Combine(folder, "densenet121.pth");
        string headless = Path.Combine(folder, "headless.pth");

        (code, output, error) = Support.Samples.Run("DropClassifier", original, headless);

        Assert.True(code == 0, output + error);
        var lines = output.TrimEnd().Split('\n');
        Assert.Equal(["dropped classifier.weight", "dropped classifier.bias"], lines[..2]);
        // torchvision's densenet121: 727 state-dict entries and 7,978,856 parameters; its classifier is 1024 × 1000 + 1000 of them.
        Assert.Equal($"wrote {headless}: 725 tensors, 6,953,856 parameters", lines[2]);

        (code, output, error) = PyTorch.RunScript("load_headless.py", "densenet121", original, headless);
        Assert.True(code == 0, output + error);
        using var result = JsonDocument.Parse(output);
        Assert.Equal(["classifier.weight", "classifier.bias"], result.RootElement.GetProperty("missing").EnumerateArray().Select(e => e.GetString()));
        Assert.Empty(result.RootElement.GetProperty("unexpected").EnumerateArray());
        Assert.Empty(result.RootElement.GetProperty("differing").EnumerateArray());
    }

    [Fact]
    public void RunsWithNoArgumentsOnFreshOrCachedWeights()
    {
        var (code, output, error) = Support.Samples.Run("DropClassifier");
        Assert.True(code == 0, output + error);
        Assert.Contains("dropped classifier.weight", output);
        Assert.EndsWith("densenet121_headless.pth: 725 tensors, 6,953,856 parameters", output.TrimEnd());
    }
}
