using System.Text.Json;
using Backbones.Data;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using Backbones.Vision;
using TorchSharp;
using static TorchSharp.torch;
using static Backbones.Tests.Data.DataTensors;

namespace Backbones.Tests.Data;

/// <summary>
/// The augmentations against torchvision 0.14's functional ops with the random draws fixed
/// (tests/reference/augment_parity.py), and the statistics and repeatability of the draws themselves.
/// </summary>
public class AugmentationTests
{
    const double Tolerance = 1e-5;

    [Fact]
    public void FunctionalOpsAndTrainChainEqualTorchvisionWithin1e5()
    {
        PyTorch.Require();
        using var scope = NewDisposeScope();
        var images = new Dictionary<string, Tensor>
        {
            ["float"] = Noise(3, 37, 45, 1, quantizeHalf: true),
            ["uint8"] = NoiseBytes(3, 37, 45, 2),
            ["gray"] = Noise(1, 30, 20, 3),
            ["batch"] = Noise(2 * 3, 16, 24, 4, quantizeHalf: true).view(2, 3, 16, 24),
            ["photo"] = Smooth(90, 70),
        };
        images["photo_float"] = images["photo"].div(255f);
        var cases = new List<Dictionary<string, object?>>();
        var ours = new Dictionary<string, Tensor>();
        void Add(string name, string image, string op, Tensor result, params (string Key, object? Value)[] more)
        {
            var c = new Dictionary<string, object?> { ["name"] = name, ["image"] = image, ["op"] = op };
            foreach (var (k, v) in more) c[k] = v;
            cases.Add(c);
            ours[name] = result;
        }
        void Crop(string name, string image, CropBox box, int h, int w, ImageInterpolation mode, bool antialias) =>
            Add(name, image, "resized_crop", ImageAugment.ResizedCrop(images[image], box, h, w, mode, antialias),
                ("top", box.Top), ("left", box.Left), ("height", box.Height), ("width", box.Width), ("size", new[] { h, w }),
                ("interpolation", mode.ToString().ToLowerInvariant()), ("antialias", antialias));

        Crop("crop_float_down", "float", new(3, 5, 20, 30), 16, 16, ImageInterpolation.Bilinear, true);
        Crop("crop_uint8_whole", "uint8", new(0, 0, 37, 45), 24, 20, ImageInterpolation.Bilinear, true);
        Crop("crop_uint8_up_bicubic", "uint8", new(10, 2, 11, 7), 32, 32, ImageInterpolation.Bicubic, true);
        Crop("crop_photo", "photo", new(5, 7, 60, 50), 24, 24, ImageInterpolation.Bilinear, true);
        Crop("crop_photo_float", "photo_float", new(5, 7, 60, 50), 24, 24, ImageInterpolation.Bilinear, true);
        Crop("crop_photo_no_antialias", "photo", new(20, 0, 70, 70), 20, 28, ImageInterpolation.Bilinear, false);
        Crop("crop_batch", "batch", new(1, 2, 12, 20), 10, 10, ImageInterpolation.Bilinear, true);
        foreach (var image in new[] { "float", "uint8", "batch" })
            Add($"hflip_{image}", image, "hflip", ImageAugment.HorizontalFlip(images[image]));
        foreach (var image in new[] { "float", "uint8" })
            Add($"grayscale_{image}", image, "grayscale", ImageAugment.Grayscale(images[image]));
        (string Op, string Image, double Factor)[] adjustments =
        [
            ("brightness", "float", 0.6), ("brightness", "float", 1.4), ("brightness", "uint8", 0.7), ("brightness", "uint8", 1.3), ("brightness", "gray", 1.2),
            ("contrast", "float", 0.5), ("contrast", "float", 1.5), ("contrast", "uint8", 0.8), ("contrast", "uint8", 1.6), ("contrast", "gray", 0.7), ("contrast", "batch", 1.3),
            ("saturation", "float", 0.0), ("saturation", "float", 0.5), ("saturation", "float", 1.7), ("saturation", "uint8", 1.4), ("saturation", "gray", 0.5),
            ("hue", "float", -0.5), ("hue", "float", -0.2), ("hue", "float", 0.05), ("hue", "float", 0.31), ("hue", "float", 0.5),
            ("hue", "uint8", 0.1), ("hue", "uint8", -0.37), ("hue", "batch", 0.2), ("hue", "gray", 0.3), ("hue", "photo", 0.45),
        ];
        foreach (var (op, image, factor) in adjustments)
        {
            var result = op switch
            {
                "brightness" => ImageAugment.AdjustBrightness(images[image], factor),
                "contrast" => ImageAugment.AdjustContrast(images[image], factor),
                "saturation" => ImageAugment.AdjustSaturation(images[image], factor),
                _ => ImageAugment.AdjustHue(images[image], factor),
            };
            Add($"{op}_{image}_{factor}", image, op, result, ("factor", factor));
        }

        // The whole training chain, with the draws of our own random streams replayed in torchvision.
        var train = new TrainTransform(24) { Jitter = new ColorJitter(0.4, 0.4, 0.4, 0.1) };
        var draws = new List<TrainDraw>();
        for (int k = 0; k < 8; k++)
        {
            string image = k % 2 == 0 ? "photo" : "uint8";
            var draw = train.Sample((int)images[image].shape[^2], (int)images[image].shape[^1], DeterministicRandom.For(5, k));
            draws.Add(draw);
            var j = draw.Jitter!;
            Add($"chain_{k}", image, "chain", train.Apply(images[image], draw),
                ("box", new[] { draw.Crop.Top, draw.Crop.Left, draw.Crop.Height, draw.Crop.Width }), ("size", new[] { 24, 24 }),
                ("interpolation", "bilinear"), ("flip", draw.Flip), ("order", j.Order), ("brightness", j.Brightness), ("contrast", j.Contrast),
                ("saturation", j.Saturation), ("hue", j.Hue), ("mean", train.Mean), ("std", train.Std));
        }
        Assert.Contains(draws, d => d.Flip);
        Assert.Contains(draws, d => !d.Flip);

        // The fallback crop after ten misses (a scale above 1 never fits).
        var missing = new RandomResizedCrop(8) { Scale = (5, 6) };
        foreach (var (h, w) in new[] { (10, 100), (100, 10), (1, 1000), (1000, 1), (50, 60), (7, 5), (30, 41) })
        {
            var box = missing.Sample(h, w, new DeterministicRandom(1));
            cases.Add(new() { ["name"] = $"fallback_{h}x{w}", ["op"] = "fallback", ["height"] = h, ["width"] = w, ["scale"] = new[] { 5.0, 6.0 }, ["ratio"] = new[] { 3.0 / 4, 4.0 / 3 } });
            ours[$"fallback_{h}x{w}"] = torch.tensor(new long[] { box.Top, box.Left, box.Height, box.Width });
        }

        string folder = TempFolder.Create("augment");
        string input = Path.Combine(folder, "images.pth"), spec = Path.Combine(folder, "cases.json"), output = Path.Combine(folder, "out.pth");
        var dict = new PyDict { Ordered = true };
        foreach (var (name, image) in images) dict[name] = image;
        Checkpoint.Save(input, dict);
        File.WriteAllText(spec, JsonSerializer.Serialize(cases));
        var (code, stdout, stderr) = PyTorch.RunScript("augment_parity.py", input, spec, output);
        Assert.True(code == 0, stdout + stderr);
        using var expected = Checkpoint.Load(output);
        var root = (PyDict)expected.Root!;

        // A uint8 result is the float result rounded; where that lies within 1e-3 of a half, libtorch 2.10 and
        // torch 1.13 may round a last-bit difference apart. Only such ties may differ, by one, and they must be rare.
        var worst = new List<string>();
        long ties = 0, uint8Values = 0;
        foreach (var (name, mine) in ours)
        {
            using var _ = NewDisposeScope();
            var theirs = (Tensor)root[name]!;
            Assert.True(theirs.dtype == mine.dtype, $"{name}: {mine.dtype}, torchvision {theirs.dtype}");
            Assert.Equal(theirs.shape, mine.shape);
            var diff = (mine.to_type(ScalarType.Float64) - theirs.to_type(ScalarType.Float64)).abs();
            var bad = diff.gt(Tolerance);
            if (root.TryGetValue(name + "/unrounded", out var value) && value is Tensor unrounded)
            {
                var tie = (unrounded - unrounded.floor() - 0.5).abs().lt(1e-3).logical_and(diff.eq(1));
                ties += bad.logical_and(tie).sum().item<long>();
                uint8Values += mine.numel();
                bad = bad.logical_and(tie.logical_not());
            }
            long count = bad.sum().item<long>();
            if (count > 0) worst.Add($"{name}: max |ours - torchvision| = {diff.max().item<double>():G3} ({count} of {mine.numel()} values)");
        }
        Assert.True(ties * 1000 <= uint8Values, $"{ties} of {uint8Values} uint8 values rounded a tie the other way");
        Assert.True(worst.Count == 0, string.Join("\n", worst));
    }

    [Fact]
    public void CropDrawsStayInTheirRangesAndRepeatWithTheSeed()
    {
        var crop = new RandomResizedCrop(32);
        var fractions = new List<double>();
        var logRatios = new List<double>();
        foreach (var (h, w) in new[] { (200, 200), (120, 300), (301, 97) })
        {
            for (int i = 0; i < 2000; i++)
            {
                var box = crop.Sample(h, w, DeterministicRandom.For(11, h, i));
                Assert.Equal(box, crop.Sample(h, w, DeterministicRandom.For(11, h, i)));
                Assert.True(box.Top >= 0 && box.Left >= 0 && box.Top + box.Height <= h && box.Left + box.Width <= w, $"{box} outside {h}×{w}");
                fractions.Add((double)box.Height * box.Width / (h * w));
                logRatios.Add(Math.Log((double)box.Width / box.Height));
            }
        }
        // Rounding the sides to whole pixels moves area and ratio a little past the drawn values, by at most a pixel a side.
        Assert.InRange(fractions.Min(), 0.08 * 0.85, 0.09);
        Assert.InRange(fractions.Max(), 0.97, 1.0);
        Assert.InRange(logRatios.Min(), Math.Log(0.75) - 0.05, Math.Log(0.75) + 0.02);
        Assert.InRange(logRatios.Max(), Math.Log(4.0 / 3) - 0.02, Math.Log(4.0 / 3) + 0.05);
        // On the square image the ratio is log-uniform, so symmetric about 1.
        Assert.InRange(logRatios.Take(2000).Average(), -0.02, 0.02);
        Assert.NotEqual(crop.Sample(200, 200, DeterministicRandom.For(11, 200, 0)), crop.Sample(200, 200, DeterministicRandom.For(12, 200, 0)));
    }

    [Fact]
    public void TenMissesFallBackToTheCentralCropClampedToTheRatioRange()
    {
        var crop = new RandomResizedCrop(8);
        // 1 × 1000: every try wants more than one row; in_ratio 1000 > 4/3 gives h = 1, w = round(4/3) = 1, centred.
        Assert.Equal(new CropBox(0, 499, 1, 1), crop.Sample(1, 1000, new DeterministicRandom(3)));
        Assert.Equal(new CropBox(43, 0, 13, 10), crop.Central(100, 10));   // h = round(10 / 0.75) = 13, top = 87 // 2
        Assert.Equal(new CropBox(0, 0, 50, 60), crop.Central(50, 60));     // ratio 1.2 is in range: the whole image
    }

    [Fact]
    public void JitterDrawsAreTorchvisionsRangesInARandomOrder()
    {
        var jitter = new ColorJitter(brightness: 0.4, contrast: 1.5, hue: 0.1);
        Assert.Equal((0.6, 1.4), jitter.Brightness);
        Assert.Equal((0.0, 2.5), jitter.Contrast);
        Assert.Null(jitter.Saturation);
        Assert.Equal((-0.1, 0.1), jitter.Hue);
        var orders = new HashSet<string>();
        for (int i = 0; i < 200; i++)
        {
            var draw = jitter.Sample(DeterministicRandom.For(1, i));
            Assert.Equal([0, 1, 2, 3], draw.Order.Order());
            orders.Add(string.Join("", draw.Order));
            Assert.InRange(draw.Brightness!.Value, 0.6 - 1e-6, 1.4 + 1e-6);
            Assert.InRange(draw.Contrast!.Value, 0, 2.5 + 1e-6);
            Assert.Null(draw.Saturation);
            Assert.InRange(draw.Hue!.Value, -0.1 - 1e-6, 0.1 + 1e-6);
            Assert.Equal(draw, jitter.Sample(DeterministicRandom.For(1, i)) with { Order = draw.Order });
        }
        Assert.Equal(24, orders.Count); // every order of the four appears
        Assert.Throws<ArgumentOutOfRangeException>(() => new ColorJitter(hue: 0.6));
    }

    [Fact]
    public void GrayAndColourChannelsConvertBothWays()
    {
        using var scope = NewDisposeScope();
        var gray = NoiseBytes(1, 9, 7, 8);
        var rgb = ImageAugment.ToChannels(gray, 3);
        Assert.Equal([3L, 9, 7], rgb.shape);
        Assert.True(Identical(rgb[0], gray[0]) && Identical(rgb[2], gray[0]));
        // A gray image decoded as RGB comes back to its exact values.
        Assert.True(Identical(ImageAugment.ToChannels(rgb, 1), gray));
        var colour = tensor(new byte[] { 255, 0, 0, 255, 0, 0 }, [3, 1, 2]); // pixels (255, 0, 0) and (0, 255, 0) laid out per channel
        Assert.Equal([76, 150], ImageAugment.ToChannels(colour, 1).data<byte>().ToArray()); // 0.299 * 255, 0.587 * 255 rounded (PIL)
    }

    [Fact]
    public void TrainTransformGivesNormalisedCropsOfTheAskedShape()
    {
        using var scope = NewDisposeScope();
        var image = NoiseBytes(3, 40, 30, 9);
        var gray = new TrainTransform(16) { Channels = 1, Mean = [0.5, 0.5, 0.5], Std = [0.25, 0.25, 0.25] };
        var x = gray.Apply(image, new DeterministicRandom(4));
        Assert.Equal([1L, 16, 16], x.shape);
        Assert.Equal(ScalarType.Float32, x.dtype);
        Assert.InRange(x.min().item<float>(), -2.0f, 2.0f); // (v - 0.5) / 0.25 for v in [0, 1]
        var eval = new EvalTransform(new ImagePreprocessing { ResizeSize = 20, CropSize = 16 });
        Assert.Equal([3L, 16, 16], eval.Apply(image).shape);
        Assert.Equal((3, 16, 16), eval.OutputShape);
    }

    /// <summary>A smooth uint8 colour picture with some noise, as a photo's statistics roughly are.</summary>
    static Tensor Smooth(int height, int width)
    {
        using var scope = NewDisposeScope();
        var y = linspace(0, 1, height).view(1, -1, 1);
        var x = linspace(0, 1, width).view(1, 1, -1);
        var channels = tensor(new float[] { 0.3f, 0.6f, 0.9f }).view(-1, 1, 1);
        var smooth = sin(x * 7 * channels + y * 4) * 0.4f + 0.5f + Noise(3, height, width, 10).sub(0.5f).mul(0.1f);
        return (smooth.clamp(0, 1) * 255).round().to_type(ScalarType.Byte).MoveToOuterDisposeScope();
    }
}
