using System.Globalization;
using Backbones.Tests.Support;

namespace Backbones.Tests.Samples;

/// <summary>Recipes 1, 2, 3, 7 and 8: each sample runs as its own program and its printed figures are checked.</summary>
public class SurgeryRecipeSampleTests
{
    static string TorchvisionCheckpoint(string model)
    {
        PyTorch.Require();
        string folder = TempFolder.Create("sample-" + model);
        var (code, output, error) = PyTorch.RunScript("write_torchvision_state_dicts.py", folder, model);
        Assert.True(code == 0, output + error);
        return Path.Combine(folder, model + ".pth");
    }

    [Fact]
    public void BackboneLoadedByPositionFromTorchvisionStaysFixedAtLearningRateZero()
    {
        var (code, output, error) = Support.Samples.Run("BackboneByPosition", TorchvisionCheckpoint("resnet50"));
        Assert.True(code == 0, output + error);
        // torchvision's resnet50 has 320 state-dict entries; all but fc's two pair with the backbone.
        Assert.StartsWith("loaded 318, skipped 0, missing 4, unexpected 2, shape-mismatched 0", output.Split('\n').First(l => l.StartsWith("loaded ")));
        Assert.Equal("backbone.stage0.weight <- conv1.weight", Support.Samples.Figure(output, "first pair"));
        Assert.Equal("0", Support.Samples.Figure(output, "max |loaded - checkpoint|"));
        Assert.Equal("0 of 159", Support.Samples.Figure(output, "backbone tensors changed"));
        Assert.Equal("4 of 4", Support.Samples.Figure(output, "head tensors changed"));
    }

    [Fact]
    public void ResNetsGiveVectorsOfTheirWidthAndLastStrideOneDoublesTheMaps()
    {
        var (code, output, error) = Support.Samples.Run("EmbeddingBackbones");
        Assert.True(code == 0, output + error);
        Assert.Equal("[2, 512] (width 512, stride 32)", Support.Samples.Figure(output, "resnet18 vectors"));
        Assert.Equal("[2, 512] (width 512, stride 32)", Support.Samples.Figure(output, "resnet34 vectors"));
        foreach (var name in new[] { "resnet50", "resnet101", "resnet152", "resnext101_32x8d" })
            Assert.Equal("[2, 2048] (width 2048, stride 32)", Support.Samples.Figure(output, name + " vectors"));
        // 64 px input: 64 / 16 = 4.
        Assert.Equal("[2, 2048, 4, 4] (stride 16)", Support.Samples.Figure(output, "resnet50 last stride 1 maps"));
    }

    [Fact]
    public void FourChannelAlexNetKeepsThreeQuartersOfTheRgbResponse()
    {
        var (code, output, error) = Support.Samples.Run("FourChannelAlexNet");
        Assert.True(code == 0, output + error);
        Assert.Contains("features.0: 3 → 4 input channels", output);
        Assert.InRange(double.Parse(Support.Samples.Figure(output, "first conv relative L2 to 3/4 of the RGB response"), CultureInfo.InvariantCulture), 0, 1e-5);
        Assert.Equal("[2, 10]", Support.Samples.Figure(output, "logits"));
    }

    [Fact]
    public void YoloDetectorOnResNet50GivesSevenBySevenByThirty()
    {
        var (code, output, error) = Support.Samples.Run("YoloV1Detector", TorchvisionCheckpoint("resnet50"));
        Assert.True(code == 0, output + error);
        Assert.StartsWith("loaded 318,", Support.Samples.Figure(output, "load"));
        Assert.Equal("fc.weight, fc.bias", Support.Samples.Figure(output, "unexpected"));
        // torchvision's resnet50 parameters in order: the 100th is layer3.2.conv3.weight.
        Assert.Equal("layer3.2.conv3.weight", Support.Samples.Figure(output, "last frozen"));
        Assert.Equal("[1, 7, 7, 30]", Support.Samples.Figure(output, "output"));
    }

    [Fact]
    public void TransposedConvolutionHeadHasTheShapesOfTheRecipe()
    {
        var (code, output, error) = Support.Samples.Run("TransposedConvHead");
        Assert.True(code == 0, output + error);
        Assert.Equal("[2, 512, 1, 1]", Support.Samples.Figure(output, "avgpool"));
        Assert.Equal("[2, 256, 4, 4]", Support.Samples.Figure(output, "up"));
        Assert.Equal("[2, 256, 2, 2]", Support.Samples.Figure(output, "pool"));
        Assert.Equal("[2, 1024]", Support.Samples.Figure(output, "flatten"));
        Assert.Equal("[2, 10]", Support.Samples.Figure(output, "classifier"));
    }
}
