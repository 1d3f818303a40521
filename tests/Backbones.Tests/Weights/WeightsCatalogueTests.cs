using System.Text.Json;
using Backbones.Models;
using Backbones.Serialization;
using Backbones.Tests.Support;
using Backbones.Transfer;
using Backbones.Weights;
using static TorchSharp.torch;

namespace Backbones.Tests.Weights;

/// <summary>The embedded catalogue says what torchvision's metadata says; cached weights are found where torch hub keeps them.</summary>
public sealed class WeightsCatalogueTests
{
    [Fact]
    public void EveryWeightsSetMatchesTorchvisionsMetadata()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedData.Folder, "torchvision_weights.json")));
        int count = 0;
        foreach (var family in doc.RootElement.GetProperty("classification").EnumerateArray())
            foreach (var w in family.GetProperty("weights").EnumerateArray())
            {
                var ours = WeightsCatalogue.Find(family.GetProperty("builder").GetString()!, w.GetProperty("name").GetString()!);
                Assert.NotNull(ours);
                Assert.Equal(w.GetProperty("url").GetString(), ours.Url);
                Assert.Equal(w.GetProperty("sha256_prefix").GetString(), ours.Sha256Prefix);
                Assert.Equal(w.GetProperty("num_params").GetInt64(), ours.NumParams);
                Assert.Equal(w.GetProperty("transforms").GetProperty("crop_size").GetInt32(), ours.Transforms!.CropSize);
                Assert.Equal(WeightsTask.Classification, ours.Task);
                Assert.Empty(ours.KeypointNames);
                Assert.Equal(w.GetProperty("num_classes").ValueKind == JsonValueKind.Null ? 0 : w.GetProperty("num_classes").GetInt32(), ours.Categories.Count);
                count++;
            }
        Assert.Equal(count, WeightsCatalogue.All.Count(w => w.Task == WeightsTask.Classification));
        Assert.Equal(80, WeightsCatalogue.Models(WeightsTask.Classification).Count);
    }

    static readonly string[] CocoKeypoints =
    [
        "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    ];

    [Fact]
    public void KeypointRcnnWeightsComeWithTheirCategoriesAndKeypointNames()
    {
        var sets = WeightsCatalogue.For("keypointrcnn_resnet50_fpn");
        Assert.Equal(["COCO_V1", "COCO_LEGACY"], sets.Select(w => w.Name));
        var v1 = WeightsCatalogue.Find("keypointrcnn_resnet50_fpn", "COCO_V1")!;
        Assert.Same(v1, WeightsCatalogue.Find("keypointrcnn_resnet50_fpn", "DEFAULT"));
        Assert.Same(v1, WeightsCatalogue.Find("keypointrcnn_resnet50_fpn", "KeypointRCNN_ResNet50_FPN_Weights.COCO_V1"));
        Assert.Equal("https://download.pytorch.org/models/keypointrcnn_resnet50_fpn_coco-fc266e95.pth", v1.Url);
        Assert.Equal(("keypointrcnn_resnet50_fpn_coco-fc266e95.pth", "fc266e95"), (v1.FileName, v1.Sha256Prefix));
        Assert.Equal((54.6, 65.0, 59137258L), (v1.BoxMap!.Value, v1.KeypointMap!.Value, v1.NumParams));
        var legacy = WeightsCatalogue.Find("keypointrcnn_resnet50_fpn", "COCO_LEGACY")!;
        Assert.Equal("https://download.pytorch.org/models/keypointrcnn_resnet50_fpn_coco-9f466800.pth", legacy.Url);
        Assert.Equal(("9f466800", false, 50.6, 61.1), (legacy.Sha256Prefix, legacy.IsDefault, legacy.BoxMap!.Value, legacy.KeypointMap!.Value));
        foreach (var w in sets)
        {
            Assert.Equal(WeightsTask.KeypointDetection, w.Task);
            Assert.Equal(["no person", "person"], w.Categories);
            Assert.Equal(2, w.NumClasses);
            Assert.Equal(CocoKeypoints, w.KeypointNames);
            Assert.Null(w.Transforms);
            Assert.Null(w.Acc1);
        }
        Assert.Equal(["keypointrcnn_resnet50_fpn"], WeightsCatalogue.Models(WeightsTask.KeypointDetection));
    }

    [Fact]
    public void EmbeddedCatalogueIsTheSharedOne()
    {
        Assert.Equal(File.ReadAllBytes(Path.Combine(SharedData.Folder, "torchvision_weights.json")),
            File.ReadAllBytes(Path.Combine(Repository.Root, "src", "Backbones", "Weights", "torchvision_weights.json")));
    }

    [Fact]
    public void DefaultIsTheOneTorchvisionMarks()
    {
        Assert.Equal("IMAGENET1K_V2", WeightsCatalogue.Find("resnet50", "DEFAULT")!.Name);
        Assert.Equal("ResNet50_Weights.IMAGENET1K_V1", WeightsCatalogue.Find("resnet50", "ResNet50_Weights.IMAGENET1K_V1")!.FullName);
        Assert.Null(WeightsCatalogue.Find("resnet50", "IMAGENET22K"));
        var categories = File.ReadAllLines(Path.Combine(SharedData.Folder, "imagenet_categories.txt"));
        Assert.Equal(categories, WeightsCatalogue.ImageNetCategories);
    }

    [Fact]
    public void CacheFolderFollowsTorchHubsRules()
    {
        // One test mutates the environment, in sequence, and restores it.
        string? torchHome = Environment.GetEnvironmentVariable("TORCH_HOME"), xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        try
        {
            Environment.SetEnvironmentVariable("TORCH_HOME", "/opt/torch");
            Assert.Equal("/opt/torch/hub/checkpoints", WeightsCache.Folder);
            Environment.SetEnvironmentVariable("TORCH_HOME", null);
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", "/var/cache/me");
            Assert.Equal("/var/cache/me/torch/hub/checkpoints", WeightsCache.Folder);
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", null);
            Assert.Equal(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache/torch/hub/checkpoints"), WeightsCache.Folder);
        }
        finally
        {
            Environment.SetEnvironmentVariable("TORCH_HOME", torchHome);
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", xdg);
        }
    }

    [Fact]
    public void CachedCatalogueWeightsLoadWithoutADownloadAndANewHeadIsLeftFresh()
    {
        PyTorch.Require();
        // PyTorch's resnet18 weights, under the official file name in a cache folder: found, no network needed.
        string cache = TempFolder.Create("hub");
        var official = WeightsCatalogue.Find("resnet18", "DEFAULT")!;
        File.Copy(ReferenceFiles.Path("resnet18_zip.pth"), Path.Combine(cache, official.FileName));
        var download = new DownloadOptions { CacheFolder = cache, MirrorBaseUrl = "http://127.0.0.1:9/unreachable" };

        using var full = ModelZoo.Create("resnet18", new ModelOptions { Weights = "DEFAULT", Download = download });
        Assert.Equal(122, full.LoadedWeights!.Report.Loaded.Count);
        Assert.False(full.LoadedWeights.HeadReplaced);

        using var tenClasses = ModelZoo.Create("resnet18", new ModelOptions { Weights = "IMAGENET1K_V1", NumClasses = 10, Download = download });
        Assert.True(tenClasses.LoadedWeights!.HeadReplaced);
        Assert.Equal(new[] { "fc.weight", "fc.bias" }, tenClasses.LoadedWeights.Report.Missing);
        using var reference = StateDict.Load(ReferenceFiles.Path("resnet18_zip.pth"));
        var loaded = tenClasses.OrderedStateDict().ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(Bytes.Of(reference["layer4.1.conv2.weight"]), Bytes.Of(loaded["layer4.1.conv2.weight"]));
        Assert.Equal(new long[] { 10, 512 }, loaded["fc.weight"].shape);
    }

    [Fact]
    public void UnknownWeightsNameListsTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => ModelZoo.Create("resnet50", new ModelOptions { Weights = "IMAGENET21K" }));
        Assert.Equal("'IMAGENET21K' is neither a weights set of resnet50 (DEFAULT, IMAGENET1K_V2, IMAGENET1K_V1) nor an existing file", e.Message);
    }
}
