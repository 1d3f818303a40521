using System.Text.Json;
using Backbones.Models;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using Backbones.Vision;
using static TorchSharp.torch;

namespace Backbones.Tests.Vision;

/// <summary>Grad-CAM against the same formula in PyTorch, and channel-mean overlays against a PyTorch + numpy rendering of the same PNGs.</summary>
public class ActivationMapsTests
{
    const double Tolerance = 1e-4;

    [Theory]
    [InlineData("resnet18", 64, null, "layer4", null)]        // our default: the last stage (ForwardFeatures), top class
    [InlineData("resnet18", 64, "layer3", "layer3", 7)]
    [InlineData("vgg11", 64, "features.18", "features.18", 3)] // the last convolution, an in-place ReLU after it
    public void GradCamEqualsPyTorchs(string model, int size, string? layer, string torchLayer, int? target)
    {
        PyTorch.Require();
        string folder = TempFolder.Create("gradcam");
        var (code, output, error) = PyTorch.RunScript("activation_maps.py",
            ["gradcam", folder, model, "--size", size.ToString(), "--layer", torchLayer, .. target is { } t ? new[] { "--class", t.ToString() } : []]);
        Assert.True(code == 0, output + error);
        using var reference = Checkpoint.Load(Path.Combine(folder, "gradcam.pth"));
        var root = (PyDict)reference.Root!;

        using var net = ModelZoo.Create(model, new ModelOptions { Weights = Path.Combine(folder, model + ".pth") });
        using var cam = ActivationMaps.GradCam(net, (Tensor)root["input"]!, target, layer);
        var expected = (Tensor)root["cam"]!;
        Assert.Equal((int)(long)root["class"]!, cam.Class);
        Assert.Equal((double)root["score"]!, cam.Score, 1e-4);
        Assert.Equal(expected.shape, cam.Map.shape);
        double maxAbs = (cam.Map - expected).abs().max().item<float>();
        Assert.True(maxAbs <= Tolerance, $"max |ours - PyTorch| = {maxAbs:G3}");
        Assert.Equal(1.0, cam.Map.max().item<float>(), 6);
        Assert.False(net.parameters().Any(p => p.grad is not null), "Grad-CAM left gradients on the parameters");
    }

    /// <summary>
    /// Every pixel within 2 levels, and at most 1% of pixels differing: float rounding between libtorch versions can move a
    /// map value across one of JET's 256 steps, which shifts the colour by a step (at most 4 levels × 0.4).
    /// </summary>
    [Fact]
    public void ChannelMeanOverlaysEqualPyTorchAndMatplotlibJet()
    {
        PyTorch.Require();
        string image = ReferenceImages.Path("rgb.png");
        var reference = ClassifyReference.Make("alexnet", 72, 64, 1000, image);
        string folder = TempFolder.Create("cam-mean");
        using var model = ModelZoo.Create("alexnet", new ModelOptions { Weights = reference.Weights });
        var preprocessing = new ImagePreprocessing { ResizeSize = 72, CropSize = 64 };
        var report = ActivationMapImages.WriteChannelMeans(model, image, preprocessing, folder);
        string[] convolutions = ["features.0", "features.3", "features.6", "features.8", "features.10"];
        Assert.Equal(convolutions, report.Written.Select(w => w.Layer));
        Assert.Equal(convolutions.Select((c, i) => Path.Combine(folder, $"{i:D2}-{c}.png")), report.Written.Select(w => w.File));

        var (code, output, error) = PyTorch.RunScript("activation_maps.py",
            ["mean", reference.Weights, "alexnet", image, "--resize", "72", "--crop", "64", folder, .. convolutions]);
        Assert.True(code == 0, output + error);
        using var doc = JsonDocument.Parse(output);
        var jet = doc.RootElement.GetProperty("jet").EnumerateArray().Select(c => c.EnumerateArray().Select(v => (byte)v.GetInt32()).ToArray()).ToList();
        Assert.Equal(jet.Select(c => (c[0], c[1], c[2])), Heatmap.Jet);
        foreach (var layer in doc.RootElement.GetProperty("layers").EnumerateObject())
        {
            Assert.InRange(layer.Value.GetProperty("max_diff").GetInt32(), 0, 2);
            Assert.InRange(layer.Value.GetProperty("differing").GetDouble(), 0, 0.01);
        }
    }

    [Fact]
    public void OverlayBlendsSixTenthsImageWithFourTenthsJet()
    {
        using var image = full(new long[] { 3, 1, 2 }, 100, ScalarType.Byte);
        using var map = tensor(new float[] { 0, 1 }).view(1, 2);
        var rgb = Heatmap.Overlay(image, map);
        // JET at 0 is dark blue (0, 0, 127), at 1 dark red (127, 0, 0): 0.6 × 100 + 0.4 × 127 = 110.8.
        Assert.Equal(new byte[] { 60, 60, 111, 111, 60, 60 }, rgb);
    }
}
