using System.Text.Json;
using Backbones.Detection;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Init;
using Backbones.Tests.Support;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Tests.Detection;

/// <summary>
/// The assembled Keypoint R-CNN against torchvision 0.14's keypointrcnn_resnet50_fpn (tests/reference/keypoint_rcnn_reference.py):
/// keys and shapes of both layouts, and the fine-tuning recipe's trainable parameters and step.
/// </summary>
[Collection(nameof(GlobalGeneratorCollection))]
public sealed class KeypointRcnnTests
{
    static readonly Lazy<string> Folder = new(() => PyTorch.WriteReference("keypoint_rcnn_reference.py", "keypoint-rcnn"));

    static string WeightsFile => Path.Combine(Folder.Value, "model.pth");

    static (Checkpoint Io, PyDict Root) Reference()
    {
        PyTorch.Require();
        var io = Checkpoint.Load(Path.Combine(Folder.Value, "io.pth"));
        return (io, (PyDict)io.Root!);
    }

    static PyDict D(PyDict d, string key) => (PyDict)d[key]!;
    static Tensor T(PyDict d, string key) => (Tensor)d[key]!;
    static List<object?> L(PyDict d, string key) => (List<object?>)d[key]!;

    static List<(string Key, long[] Shape)> Keys(string layout)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder.Value, "keys.json")));
        return doc.RootElement.GetProperty(layout).EnumerateArray()
            .Select(e => (e[0].GetString()!, e[1].EnumerateArray().Select(d => d.GetInt64()).ToArray())).ToList();
    }

    static List<(string Key, long[] Shape)> Ours(KeypointRcnn model) => model.OrderedStateDict().Select(kv => (kv.Key, kv.Value.shape)).ToList();

    static void AssertSameKeys(List<(string Key, long[] Shape)> expected, List<(string Key, long[] Shape)> actual)
    {
        Assert.Equal(expected.Select(k => k.Key), actual.Select(k => k.Key));
        foreach (var ((key, want), (_, got)) in expected.Zip(actual)) Assert.True(want.SequenceEqual(got), $"{key}: [{string.Join(", ", want)}] vs [{string.Join(", ", got)}]");
    }

    [Fact]
    public void KeysAndShapesEqualTorchvisionsInBothLayouts()
    {
        PyTorch.Require();
        using (var fresh = KeypointRcnn.Create()) AssertSameKeys(Keys("fresh"), Ours(fresh));
        // What torchvision builds under weights (FrozenBatchNorm2d: no num_batches_tracked), the COCO checkpoints' layout.
        using var frozen = KeypointRcnn.Create(new KeypointRcnnOptions { Weights = WeightsFile });
        AssertSameKeys(Keys("frozen"), Ours(frozen));
        Assert.Equal(59_137_258, frozen.parameters().Sum(p => p.numel())); // the catalogue's num_params
    }

    [Fact]
    public void FineTuningRecipeTrainsWhatTorchvisionsDoesAndOneStepChangesExactlyThat()
    {
        var (io, root) = Reference();
        using var _ = io;
        var recipe = D(root, "recipe");
        int n = Convert.ToInt32(recipe["train_kpt_head"]), k = Convert.ToInt32(recipe["num_keypoints"]);
        // Under weights, as the recipe runs on the COCO checkpoint: FrozenBatchNorm2d, so no statistic moves either.
        using var model = KeypointRcnn.Create(new KeypointRcnnOptions
        {
            Weights = WeightsFile, Transform = new RcnnTransformOptions { MinSize = [Convert.ToInt32(root["min_size"])], MaxSize = Convert.ToInt32(root["max_size"]) },
        });
        var done = model.PrepareFineTuning(trainFpn: true, trainKeypointHead: n, numKeypoints: k);
        done.Predictor?.Replaced.Dispose();
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).ToList();
        Assert.Equal(L(recipe, "trainable").Cast<string>(), trainable);
        Assert.Equal(Convert.ToInt64(recipe["trainable_count"]), model.parameters().Where(p => p.requires_grad).Sum(p => p.numel()));

        var before = model.OrderedStateDict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var images = L(root, "images").Cast<Tensor>().ToList();
        var targets = L(D(root, "train"), "targets").Cast<PyDict>().Select(t => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor>
        {
            ["boxes"] = T(t, "boxes"), ["labels"] = T(t, "labels"), ["keypoints"] = T(t, "keypoints")[.., ..k, ..],
        }).ToList();
        model.train();
        using var sgd = optim.SGD(model.parameters().Where(p => p.requires_grad), 0.01, momentum: 0.9);
        using (var scope = NewDisposeScope())
        using (Backbones.Runtime.OneDnn.GuardBackward(model))
        {
            var losses = model.call(images, targets).Losses;
            losses.Values.Aggregate((a, b) => a + b).backward();
            sgd.step();
        }
        var changed = model.OrderedStateDict().Where(kv => !kv.Value.eq(before[kv.Key]).all().item<bool>()).Select(kv => kv.Key).ToList();
        Assert.Equal(trainable, changed);
        foreach (var t in before.Values) t.Dispose();
    }
}
