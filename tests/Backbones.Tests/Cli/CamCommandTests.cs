using Backbones.Tests.Support;
using Backbones.Tests.Vision;
using Backbones.Vision;

namespace Backbones.Tests.Cli;

/// <summary><c>cam</c>: one PNG per layer the size of the model's view, Grad-CAM of the top or a chosen class.</summary>
public sealed class CamCommandTests
{
    [Fact]
    public void MeanWritesOnePngPerLayerTheSizeOfTheCrop()
    {
        string folder = TempFolder.Create("cam-cli");
        var (code, output, error) = CliRunner.Run("cam", "resnet18", ReferenceImages.Path("rgb.png"), "-o", folder,
            "--resize", "40", "--crop", "32", "--layers", "conv1,layer1.0.conv2");
        Assert.True(code == 0, error);
        Assert.Equal(["00-conv1.png", "01-layer1.0.conv2.png"], Directory.GetFiles(folder).Select(Path.GetFileName).Order());
        foreach (var png in Directory.GetFiles(folder))
        {
            var picture = ImageDecoder.Decode(png);
            Assert.Equal((32, 32, 8), (picture.Width, picture.Height, picture.BitDepth));
        }
        Assert.Contains($"conv1 -> {Path.Combine(folder, "00-conv1.png")}", output);
    }

    [Fact]
    public void GradCamExplainsTheChosenClassWithItsName()
    {
        string folder = TempFolder.Create("cam-cli");
        var (code, output, error) = CliRunner.Run("cam", "resnet18", ReferenceImages.Path("baseline.jpg"), "-o", folder,
            "--method", "gradcam", "--class", "281", "--resize", "72", "--crop", "64");
        Assert.True(code == 0, error);
        Assert.Contains("Grad-CAM of class 281 (tabby, logit ", output);
        Assert.Contains($"layer4 (features) -> {Path.Combine(folder, "gradcam-281.png")}", output);
        Assert.Equal((64, 64), (ImageDecoder.Decode(Path.Combine(folder, "gradcam-281.png")).Width, ImageDecoder.Decode(Path.Combine(folder, "gradcam-281.png")).Height));
    }

    [Fact]
    public void UnreadableImageIsAnErrorNamingIt()
    {
        string bad = ReferenceImages.Path("truncated.png");
        var (code, _, error) = CliRunner.Run("cam", "resnet18", bad, "-o", TempFolder.Create("cam-cli"));
        Assert.Equal(2, code);
        Assert.Contains($"error: {bad}: cannot decode PNG", error);
    }
}
