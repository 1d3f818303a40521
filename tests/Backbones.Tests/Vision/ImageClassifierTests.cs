using Backbones.Models;
using Backbones.Onnx;
using Backbones.Vision;
using Backbones.Weights;

namespace Backbones.Tests.Vision;

/// <summary>Our decode + preprocessing + model against torchvision's read_image + transforms + model on the same files and weights.</summary>
public class ImageClassifierTests
{
    /// <summary>
    /// Decoded pixels are identical (lossless files; JPEG measured identical too) and preprocessing agrees to 1e-6,
    /// so what is left is libtorch 2.10 against 1.13 kernels over ResNet-18's layers (measured 4.5e-7 relative on rgb.png).
    /// </summary>
    const double Tolerance = 1e-4;

    [Fact]
    public void LogitsEqualPyTorchsForTheSameFilesAndWeights()
    {
        string[] names = ["rgb.png", "palette.png", "gray.png", "baseline.jpg", "rgba.png"];
        var paths = names.Select(ReferenceImages.Path).ToArray();
        var reference = ClassifyReference.Make("resnet18", 72, 64, 1000, paths);

        using var model = ModelZoo.Create("resnet18", new ModelOptions { Weights = reference.Weights });
        var classifier = new ImageClassifier(model, new ImagePreprocessing { ResizeSize = 72, CropSize = 64 }, WeightsCatalogue.ImageNetCategories);
        var results = classifier.Classify(ImageFile.Of(paths), topK: 5, new ImagePipelineOptions { BatchSize = 2 }).ToList();

        Assert.Equal(paths, results.Select(r => r.File.Path));
        for (int i = 0; i < paths.Length; i++)
        {
            double relative = ClassifyReference.RelativeL2(results[i].Logits, reference.Logits[i]);
            Assert.True(relative <= Tolerance, $"{names[i]}: relative L2 {relative:G3}");
            Assert.Equal(reference.Top[i].Select(t => t.Index), results[i].Top.Select(p => p.Index));
            Assert.Equal(reference.Top[i].Select(t => t.Probability), results[i].Top.Select(p => p.Probability), (a, b) => Math.Abs(a - b) < 1e-5);
            Assert.Equal(WeightsCatalogue.ImageNetCategories[results[i].Top[0].Index], results[i].Top[0].Label);
        }
    }

    [Fact]
    public void OnnxEngineGivesTheTorchEnginesLogits()
    {
        var paths = ImageFile.Of(new[] { "rgb.png", "baseline.jpg", "gray.png" }.Select(ReferenceImages.Path));
        var preprocessing = new ImagePreprocessing { ResizeSize = 72, CropSize = 64 };
        using var model = ModelZoo.Create("mobilenet_v3_small");
        var cache = Backbones.Tests.Support.TempFolder.Create("classify-onnx");
        List<ClassifiedImage> Run(InferenceEngineKind kind)
        {
            using var engine = InferenceEngine.Create(model, new InferenceOptions { Engine = kind, CacheDirectory = cache });
            return new ImageClassifier(engine, preprocessing, WeightsCatalogue.ImageNetCategories).Classify(paths, 3).ToList();
        }
        var torch = Run(InferenceEngineKind.Torch);
        var onnx = Run(InferenceEngineKind.Onnx);
        Assert.Single(Directory.GetFiles(cache, "*.onnx", SearchOption.AllDirectories));
        for (int i = 0; i < paths.Count; i++)
        {
            double relative = ClassifyReference.RelativeL2(onnx[i].Logits, torch[i].Logits);
            Assert.True(relative <= 1e-5, $"{paths[i].Name}: relative L2 {relative:G3}");
            Assert.Equal(torch[i].Top.Select(p => p.Index), onnx[i].Top.Select(p => p.Index));
        }
    }

    [Fact]
    public void UnreadableFileComesOutInItsPlace()
    {
        using var model = ModelZoo.Create("resnet18", new ModelOptions { NumClasses = 3 });
        var classifier = new ImageClassifier(model, new ImagePreprocessing { ResizeSize = 40, CropSize = 32 }, ["a", "b", "c"]);
        var files = ImageFile.Of([ReferenceImages.Path("rgb.png"), ReferenceImages.Path("truncated.png"), ReferenceImages.Path("gray.jpg")]);
        var results = classifier.Classify(files, topK: 2, new ImagePipelineOptions { BatchSize = 3 }).ToList();
        Assert.Equal(files, results.Select(r => r.File));
        Assert.Equal([true, false, true], results.Select(r => r.Succeeded));
        Assert.Contains("cannot decode PNG", results[1].Problem);
        Assert.Equal(2, results[0].Top.Count);
        Assert.True(results[0].Top[0].Probability >= results[0].Top[1].Probability);
        Assert.All(results[0].Top, p => Assert.Equal(new[] { "a", "b", "c" }[p.Index], p.Label));
    }
}
