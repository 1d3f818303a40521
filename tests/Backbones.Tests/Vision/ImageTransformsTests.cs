using System.Text.Json;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using Backbones.Vision;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Tests.Vision;

/// <summary>
/// Resize, center crop, to-float and normalise against torchvision 0.14's functional transforms on the same decoded
/// pixels (tests/reference/transforms_parity.py), and the preset each weights set asks for.
/// </summary>
public class ImageTransformsTests
{
    const double Tolerance = 1e-5;

    static readonly double[] ImageNetMean = [0.485, 0.456, 0.406], ImageNetStd = [0.229, 0.224, 0.225];

    sealed record Case(string Name, string Image, int Resize, int Crop, string Interpolation, bool Antialias, double[] Mean, double[] Std);

    [Fact]
    public void ResizeCropNormaliseEqualTorchvisionWithin1e5()
    {
        PyTorch.Require();
        string folder = TempFolder.Create("transforms");
        using var scope = NewDisposeScope();
        var images = new Dictionary<string, Tensor>
        {
            ["landscape"] = ImageDecoder.Decode(ReferenceImages.Path("rgb.png")).ToTensor(),          // 53 × 37
            ["portrait"] = ImageDecoder.Decode(ReferenceImages.Path("orientation6.jpg")).ToTensor(),  // 37 × 53, turned upright
            ["sixteen"] = ImageDecoder.Decode(ReferenceImages.Path("rgb16.png")).ToTensor(),          // float
            ["photo"] = Photo(),                                                                     // 500 × 375 uint8
        };
        Case[] cases =
        [
            new("down_bilinear", "landscape", 32, 28, "bilinear", true, ImageNetMean, ImageNetStd),
            new("up_bilinear", "landscape", 80, 64, "bilinear", true, ImageNetMean, ImageNetStd),
            new("portrait_bicubic", "portrait", 30, 24, "bicubic", true, ImageNetMean, ImageNetStd),
            new("crop_larger_pads", "landscape", 20, 25, "bilinear", true, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]),
            new("no_antialias", "landscape", 24, 20, "bilinear", false, ImageNetMean, ImageNetStd),
            new("same_size", "landscape", 37, 33, "bilinear", true, ImageNetMean, ImageNetStd),
            new("sixteen_bit_bicubic", "sixteen", 17, 15, "bicubic", true, ImageNetMean, ImageNetStd),
            new("photo_256_224", "photo", 256, 224, "bilinear", true, ImageNetMean, ImageNetStd),
            new("photo_232_224", "photo", 232, 224, "bilinear", true, ImageNetMean, ImageNetStd),
            new("photo_bicubic_384", "photo", 384, 384, "bicubic", true, ImageNetMean, ImageNetStd),
        ];
        int[][] sizes = [.. from h in new[] { 1, 7, 37, 224, 333, 375, 500, 599 } from w in new[] { 1, 9, 53, 224, 331, 500 }
                            from s in new[] { 1, 13, 224, 232, 256, 299 } select new[] { h, w, s }];

        string input = Path.Combine(folder, "images.pth"), spec = Path.Combine(folder, "cases.json"), output = Path.Combine(folder, "out.pth");
        var dict = new PyDict { Ordered = true };
        foreach (var (name, image) in images) dict[name] = image;
        Checkpoint.Save(input, dict);
        File.WriteAllText(spec, JsonSerializer.Serialize(new
        {
            cases = cases.Select(c => new { name = c.Name, image = c.Image, resize = c.Resize, crop = c.Crop, interpolation = c.Interpolation, antialias = c.Antialias, mean = c.Mean, std = c.Std }),
            sizes,
        }));
        var (code, stdout, stderr) = PyTorch.RunScript("transforms_parity.py", input, spec, output);
        Assert.True(code == 0, stdout + stderr);
        using var expected = Checkpoint.Load(output);
        var root = (PyDict)expected.Root!;

        foreach (var c in cases)
        {
            var preprocessing = new ImagePreprocessing
            {
                ResizeSize = c.Resize, CropSize = c.Crop, Antialias = c.Antialias, Mean = c.Mean, Std = c.Std,
                Interpolation = c.Interpolation == "bicubic" ? ImageInterpolation.Bicubic : ImageInterpolation.Bilinear,
            };
            var ours = preprocessing.Apply(images[c.Image]);
            var theirs = (Tensor)root[c.Name]!;
            Assert.Equal(theirs.shape, ours.shape);
            double maxAbs = (ours - theirs).abs().max().item<float>();
            Assert.True(maxAbs <= Tolerance, $"{c.Name}: max |ours - torchvision| = {maxAbs:G3}");
        }

        var expectedSizes = ((Tensor)root["sizes"]!).data<long>().ToArray();
        for (int i = 0; i < sizes.Length; i++)
        {
            var (h, w) = ImageTransforms.ResizedSize(sizes[i][0], sizes[i][1], sizes[i][2]);
            Assert.Equal((expectedSizes[2 * i], expectedSizes[2 * i + 1]), ((long)h, (long)w));
        }
    }

    [Fact]
    public void ResizedSizeTruncatesTheLongerSide()
    {
        Assert.Equal((256, 341), ImageTransforms.ResizedSize(375, 500, 256)); // 256 * 500 / 375 = 341.33
        Assert.Equal((309, 232), ImageTransforms.ResizedSize(500, 375, 232)); // 232 * 500 / 375 = 309.33
        Assert.Equal((224, 224), ImageTransforms.ResizedSize(10, 10, 224));
    }

    [Fact]
    public void CenterCropRoundsHalfToEvenAsPython()
    {
        using var image = arange(0, 7 * 7, dtype: ScalarType.Byte).view(1, 7, 7);
        // (7 - 4) / 2 = 1.5 rounds to 2 in Python 3; (7 - 2) / 2 = 2.5 rounds to 2.
        using var crop4 = ImageTransforms.CenterCrop(image, 4, 4);
        using var crop2 = ImageTransforms.CenterCrop(image, 2, 2);
        Assert.Equal(2 * 7 + 2, crop4[0, 0, 0].item<byte>());
        Assert.Equal(2 * 7 + 2, crop2[0, 0, 0].item<byte>());
    }

    [Theory]
    [InlineData("resnet50", "IMAGENET1K_V2", 232, 224, ImageInterpolation.Bilinear)]
    [InlineData("resnet50", "IMAGENET1K_V1", 256, 224, ImageInterpolation.Bilinear)]
    [InlineData("resnet50", null, 232, 224, ImageInterpolation.Bilinear)]
    [InlineData("resnet50", "/somewhere/resnet50-0676ba61.pth", 256, 224, ImageInterpolation.Bilinear)]
    [InlineData("efficientnet_b3", "DEFAULT", 320, 300, ImageInterpolation.Bicubic)]
    public void DefaultsToTheWeightsSetsOwnPreprocessing(string model, string? weights, int resize, int crop, ImageInterpolation interpolation)
    {
        var p = ImagePreprocessing.For(model, weights);
        Assert.Equal((resize, crop, interpolation), (p.ResizeSize, p.CropSize, p.Interpolation));
        Assert.Equal([0.485, 0.456, 0.406], p.Mean);
    }

    /// <summary>A 500 × 375 uint8 picture: smooth gradients with noise, as a photo's statistics roughly are.</summary>
    static Tensor Photo()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(7);
        var y = linspace(0, 1, 375).view(1, -1, 1);
        var x = linspace(0, 1, 500).view(1, 1, -1);
        var channels = tensor(new float[] { 0.3f, 0.6f, 0.9f }).view(-1, 1, 1);
        var smooth = sin(x * 9 * channels + y * 5) * 0.4f + 0.5f;
        var noisy = smooth + randn(3, 375, 500, generator: generator) * 0.08f;
        return (noisy.clamp(0, 1) * 255).round().to_type(ScalarType.Byte).MoveToOuterDisposeScope();
    }
}
