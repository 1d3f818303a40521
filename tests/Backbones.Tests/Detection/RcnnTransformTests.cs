using Backbones.Tests.Init;
using Backbones.Detection;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using static TorchSharp.torch;

namespace Backbones.Tests.Detection;

/// <summary>RcnnTransform against torchvision's GeneralizedRCNNTransform with Keypoint R-CNN's settings, on three images of different shapes.</summary>
/// <remarks>
/// torch 1.13's bilinear kernel computes its source indices and weights in double, libtorch 2.x's (ours, and today's
/// PyTorch) in float32 (see rcnn_transform_reference.py): on these ×13 upsamplings that moves normalised pixels by up
/// to 3.2e-5. The batch is therefore held to relative L2 1e-5 against torch 1.13 itself, and to max |a-b| 1e-5 against
/// the same kernel with the float32 index rule; sizes, padding, boxes and keypoints do not depend on it.
/// </remarks>
[Collection(nameof(GlobalGeneratorCollection))] // seeds and draws from libtorch's global generator
public sealed class RcnnTransformTests
{
    const double VersionTolerance = 5e-5;

    const long Seed = 1234;

    static readonly Lazy<(string Folder, Exception? Error)> Made = new(() =>
    {
        string folder = TempFolder.Create("rcnn-transform");
        var (code, output, error) = PyTorch.RunScript("rcnn_transform_reference.py", folder, "--seed", Seed.ToString());
        return (folder, code == 0 ? null : new InvalidOperationException(output + error));
    });

    static Checkpoint Reference()
    {
        PyTorch.Require();
        var (folder, error) = Made.Value;
        if (error is not null) throw error;
        return Checkpoint.Load(Path.Combine(folder, "transform.io.pth"));
    }

    static List<Tensor> Images(PyDict root) => ((List<object?>)root["images"]!).Cast<Tensor>().ToList();

    static List<IReadOnlyDictionary<string, Tensor>> Dicts(object? list) =>
        ((List<object?>)list!).Cast<PyDict>().Select(d => (IReadOnlyDictionary<string, Tensor>)d.ToDictionary(kv => (string)kv.Key, kv => (Tensor)kv.Value!)).ToList();

    static double MaxAbs(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        return expected.NumberOfElements == 0 ? 0 : (expected.to_type(float64) - actual.to_type(float64)).abs().max().item<double>();
    }

    static bool Same(Tensor expected, Tensor actual) => expected.shape.SequenceEqual(actual.shape) && expected.eq(actual).all().item<bool>();

    static void Log(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    static void AssertSameRun(string mode, PyDict expected, ImageList images, IReadOnlyList<Dictionary<string, Tensor>> targets)
    {
        var sizes = ((List<object?>)expected["sizes"]!).Cast<List<object?>>().Select(s => ((long)s[0]!, (long)s[1]!)).ToList();
        Assert.Equal(sizes, images.ImageSizes);
        double batch = MaxAbs((Tensor)expected["batch"]!, images.Tensors);
        Log($"{mode}: sizes {string.Join(" ", sizes)}, batch [{string.Join(", ", images.Tensors.shape)}] max |a-b| {batch:E2}");
        ModelParity.AssertClose($"{mode} batch vs torch 1.13", (Tensor)expected["batch"]!, images.Tensors);
        Assert.True(batch <= VersionTolerance, $"{mode} batch max |a-b| {batch:E3}");
        var expectedTargets = Dicts(expected["targets"]);
        for (int i = 0; i < targets.Count; i++)
        {
            Assert.Equal(expectedTargets[i].Keys.Order(), targets[i].Keys.Order());
            double boxes = MaxAbs(expectedTargets[i]["boxes"], targets[i]["boxes"]);
            double keypoints = MaxAbs(expectedTargets[i]["keypoints"], targets[i]["keypoints"]);
            Log($"{mode} target {i}: boxes max |a-b| {boxes:E2}, keypoints {keypoints:E2}");
            Assert.True(boxes <= 1e-4 && keypoints <= 1e-4, $"{mode} target {i}: boxes {boxes:E3}, keypoints {keypoints:E3}");
            Assert.True(Same(expectedTargets[i]["masks"], targets[i]["masks"]), $"{mode} target {i}: masks differ");
            Assert.Equal(ScalarType.Byte, targets[i]["masks"].dtype);
            Assert.True(Same(expectedTargets[i]["labels"], targets[i]["labels"]));
        }
    }

    [Fact]
    public void EvalModeMatchesTorchvision()
    {
        using var io = Reference();
        var root = (PyDict)io.Root!;
        using var transform = new RcnnTransform(RcnnTransformOptions.KeypointRcnn);
        transform.eval();
        using var scope = NewDisposeScope();
        var (images, targets) = transform.call(Images(root), Dicts(root["targets"]));
        // The second image (75×61) shows torchvision's float32 scale: 61 · (800 · 1/61) rounds down to 799.
        Assert.Equal((983L, 799L), images.ImageSizes[1]);
        Assert.Equal([3L, 3, 992, 1344], images.Tensors.shape);
        AssertSameRun("eval", (PyDict)root["eval"]!, images, targets!);
        double floatIndex = MaxAbs((Tensor)root["eval_batch_float_index"]!, images.Tensors);
        Log($"eval batch vs the float32-index kernel: max |a-b| {floatIndex:E2}");
        Assert.True(floatIndex <= 1e-5, $"batch vs the float32-index kernel: max |a-b| {floatIndex:E3}");
    }

    [Fact]
    public void TrainModeDrawsMinSizesAsTorchvisionWithTheSameSeed()
    {
        using var io = Reference();
        var root = (PyDict)io.Root!;
        using var transform = new RcnnTransform(RcnnTransformOptions.KeypointRcnn with { Seed = Seed });
        transform.train();
        using var scope = NewDisposeScope();
        var (images, targets) = transform.call(Images(root), Dicts(root["targets"]));
        AssertSameRun("train", (PyDict)root["train"]!, images, targets!);

        // Unseeded, the draw comes from torch's global generator, as torchvision's does.
        manual_seed(Seed);
        using var unseeded = new RcnnTransform(RcnnTransformOptions.KeypointRcnn);
        unseeded.train();
        var draws = ((List<object?>)root["train_draws"]!).Cast<long>().ToList();
        var ours = Enumerable.Range(0, draws.Count).Select(_ => unseeded.call([ones(3, 64, 64)], null).Images.ImageSizes[0].Height).ToList();
        Assert.Equal(draws, ours);
        Assert.True(draws.Distinct().Count() > 3);
    }

    [Fact]
    public void PostprocessMapsBoxesAndKeypointsBackToTheOriginalSizes()
    {
        using var io = Reference();
        var root = (PyDict)io.Root!;
        using var transform = new RcnnTransform(RcnnTransformOptions.KeypointRcnn);
        transform.eval();
        var sizes = ((List<object?>)((PyDict)root["eval"]!)["sizes"]!).Cast<List<object?>>().Select(s => ((long)s[0]!, (long)s[1]!)).ToList();
        var originals = Images(root).Select(i => (i.shape[1], i.shape[2])).ToList();
        using var scope = NewDisposeScope();
        var results = transform.Postprocess(Dicts(root["post_in"]), sizes, originals);
        var expected = Dicts(root["post_out"]);
        for (int i = 0; i < results.Count; i++)
        {
            double boxes = MaxAbs(expected[i]["boxes"], results[i]["boxes"]);
            double keypoints = MaxAbs(expected[i]["keypoints"], results[i]["keypoints"]);
            Log($"postprocess {i}: boxes max |a-b| {boxes:E2}, keypoints {keypoints:E2}");
            Assert.True(boxes <= 1e-4 && keypoints <= 1e-4, $"postprocess {i}: boxes {boxes:E3}, keypoints {keypoints:E3}");
            Assert.True(Same(expected[i]["scores"], results[i]["scores"]));
        }
        // In training mode torchvision returns the results untouched.
        transform.train();
        var inputs = Dicts(root["post_in"]);
        var untouched = transform.Postprocess(inputs, sizes, originals);
        Assert.Same(inputs[0]["boxes"], untouched[0]["boxes"]);
        Assert.Same(inputs[2]["keypoints"], untouched[2]["keypoints"]);
    }

    [Fact]
    public void RefusesBadImagesAndTargetsNamingThem()
    {
        using var transform = new RcnnTransform();
        var integer = Assert.Throws<ArgumentException>(() => transform.call([zeros([3, 10, 10], ScalarType.Byte)], null));
        Assert.Contains("image 0 must be floating point", integer.Message);
        var batched = Assert.Throws<ArgumentException>(() => transform.call([zeros(3, 10, 10), zeros(1, 3, 10, 10)], null));
        Assert.Contains("image 1 must be C×H×W", batched.Message);
        var channels = Assert.Throws<ArgumentException>(() => transform.call([zeros(4, 10, 10)], null));
        Assert.Contains("4 channels", channels.Message);
        var noBoxes = Assert.Throws<ArgumentException>(() => transform.call([zeros(3, 10, 10)], [new Dictionary<string, Tensor> { ["labels"] = ones(1) }]));
        Assert.Contains("target 0 has no 'boxes'", noBoxes.Message);
        Assert.Throws<ArgumentException>(() => new RcnnTransform(new RcnnTransformOptions { MinSize = [] }));
    }
}
