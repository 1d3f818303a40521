using System.Security.Cryptography;
using System.Text.Json;
using Backbones.Models;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using static TorchSharp.torch;

namespace Backbones.Tests.Cli;

/// <summary><c>models</c>, <c>download</c> and <c>forward</c>: catalogue facts, torch hub's cache, PyTorch's numbers.</summary>
public sealed class ZooCommandTests
{
    static string Cli => Path.Combine(Repository.Root, "src", "Backbones.Cli", "bin", Repository.Configuration, "net10.0", "backbones.dll");

    [Fact]
    public void ModelsJsonListsArchitecturesWithTorchvisionsWeights()
    {
        var (code, output, error) = CliRunner.Run("models", "--json");
        Assert.True(code == 0, error);
        using var doc = JsonDocument.Parse(output);
        var models = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal([.. ModelZoo.List(), "keypointrcnn_resnet50_fpn"], models.Select(m => m.GetProperty("name").GetString()));
        Assert.Equal(["name", "family", "params", "weights"], models[0].EnumerateObject().Select(p => p.Name));
        using var shared = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedData.Folder, "torchvision_weights.json")));
        var resnet50 = shared.RootElement.GetProperty("classification").EnumerateArray().Single(f => f.GetProperty("builder").GetString() == "resnet50");
        var ours = models.Single(m => m.GetProperty("name").GetString() == "resnet50");
        Assert.Equal(StateDictContract.Of("resnet50").NumParams, ours.GetProperty("params").GetInt64());
        var v2 = resnet50.GetProperty("weights").EnumerateArray().Single(w => w.GetProperty("name").GetString() == "IMAGENET1K_V2");
        var oursV2 = ours.GetProperty("weights").EnumerateArray().Single(w => w.GetProperty("name").GetString() == "IMAGENET1K_V2");
        Assert.Equal(v2.GetProperty("url").GetString(), oursV2.GetProperty("url").GetString());
        Assert.Equal(v2.GetProperty("sha256_prefix").GetString(), oursV2.GetProperty("sha256_prefix").GetString());
        Assert.Equal(v2.GetProperty("acc1").GetDouble(), oursV2.GetProperty("acc1").GetDouble());
        Assert.Equal(v2.GetProperty("transforms").GetProperty("resize_size").GetInt32(), oursV2.GetProperty("resize").GetInt32());
        Assert.Equal(v2.GetProperty("transforms").GetProperty("mean").EnumerateArray().Select(v => v.GetDouble()),
            oursV2.GetProperty("mean").EnumerateArray().Select(v => v.GetDouble()));
    }

    [Fact]
    public void ModelsJsonListsTheKeypointDetectorWithItsWeights()
    {
        var (code, output, error) = CliRunner.Run("models", "keypoint*", "--json");
        Assert.True(code == 0, error);
        using var doc = JsonDocument.Parse(output);
        var detector = Assert.Single(doc.RootElement.EnumerateArray().ToList());
        Assert.Equal(("keypointrcnn_resnet50_fpn", "keypoint_rcnn", "keypoint_detection", 59137258L),
            (detector.GetProperty("name").GetString(), detector.GetProperty("family").GetString(), detector.GetProperty("task").GetString(),
             detector.GetProperty("params").GetInt64()));
        var weights = detector.GetProperty("weights").EnumerateArray().ToList();
        Assert.Equal(["COCO_V1", "COCO_LEGACY"], weights.Select(w => w.GetProperty("name").GetString()));
        Assert.Equal("https://download.pytorch.org/models/keypointrcnn_resnet50_fpn_coco-fc266e95.pth", weights[0].GetProperty("url").GetString());
        Assert.Equal(("9f466800", 50.6, 61.1), (weights[1].GetProperty("sha256_prefix").GetString(),
            weights[1].GetProperty("box_map").GetDouble(), weights[1].GetProperty("kp_map").GetDouble()));
        Assert.Equal(["no person", "person"], weights[0].GetProperty("categories").EnumerateArray().Select(c => c.GetString()));
        var names = weights[0].GetProperty("keypoint_names").EnumerateArray().Select(c => c.GetString()).ToList();
        Assert.Equal(17, names.Count);
        Assert.Equal(("nose", "left_shoulder", "right_ankle"), (names[0], names[5], names[16]));
    }

    [Fact]
    public void ModelsTextShowsTheDetectorsMapsAndOnlyWhatThePatternMatches()
    {
        var (code, output, error) = CliRunner.Run("models", "keypointrcnn_*");
        Assert.True(code == 0, error);
        Assert.Equal("keypointrcnn_resnet50_fpn keypoint_rcnn  59.1M params   COCO_V1 (default) box mAP 54.6 keypoint mAP 65.0  " +
            "COCO_LEGACY box mAP 50.6 keypoint mAP 61.1", output.TrimEnd());
        var (_, resnets, _) = CliRunner.Run("models", "resnet*");
        Assert.DoesNotContain("keypoint", resnets);
    }

    [Fact]
    public void DownloadFindsKeypointRcnnWeightsInTorchHubsCache()
    {
        string torchHome = TempFolder.Create("torchhome");
        string checkpoints = Directory.CreateDirectory(Path.Combine(torchHome, "hub", "checkpoints")).FullName;
        string cached = Path.Combine(checkpoints, "keypointrcnn_resnet50_fpn_coco-fc266e95.pth");
        File.WriteAllBytes(cached, [1, 2, 3]);
        var environment = new Dictionary<string, string> { ["TORCH_HOME"] = torchHome };
        foreach (string spec in new[] { "keypointrcnn_resnet50_fpn", "keypointrcnn_resnet50_fpn:COCO_V1" })
        {
            var (code, output, error) = PyTorch.Run("dotnet", [Cli, "download", spec, "--mirror", "http://127.0.0.1:9/"], 120, environment);
            Assert.True(code == 0, error);
            Assert.Equal(cached, output.Trim());
        }
    }

    [Fact]
    public void DownloadAsksTheMirrorForTheLegacyKeypointRcnnFileAndChecksItsHash()
    {
        using var server = new LocalHttpServer();
        var bogus = new byte[2048];
        server.Serve("/keypointrcnn_resnet50_fpn_coco-9f466800.pth", bogus);
        string torchHome = TempFolder.Create("torchhome");
        var (code, _, error) = PyTorch.Run("dotnet", [Cli, "download", "keypointrcnn_resnet50_fpn:COCO_LEGACY", "--mirror", server.BaseUrl], 120,
            new Dictionary<string, string> { ["TORCH_HOME"] = torchHome });
        Assert.Equal(1, code);
        Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(bogus)), error);
        Assert.Contains("does not start with 9f466800", error);
    }

    [Fact]
    public void DownloadFindsWeightsAlreadyInTorchHubsCache()
    {
        string torchHome = TempFolder.Create("torchhome");
        string checkpoints = Directory.CreateDirectory(Path.Combine(torchHome, "hub", "checkpoints")).FullName;
        string cached = Path.Combine(checkpoints, "resnet18-f37072fd.pth");
        File.WriteAllBytes(cached, [1, 2, 3]);
        var (code, output, error) = PyTorch.Run("dotnet", [Cli, "download", "resnet18", "--mirror", "http://127.0.0.1:9/"], 120,
            new Dictionary<string, string> { ["TORCH_HOME"] = torchHome });
        Assert.True(code == 0, error);
        Assert.Equal(cached, output.Trim());
    }

    [Fact]
    public void DownloadRefusesAFileWhoseHashDiffersAndLeavesTheCacheEmpty()
    {
        using var server = new LocalHttpServer();
        var bogus = new byte[4096];
        server.Serve("/resnet18-f37072fd.pth", bogus);
        string torchHome = TempFolder.Create("torchhome");
        var (code, _, error) = PyTorch.Run("dotnet", [Cli, "download", "resnet18:IMAGENET1K_V1", "--mirror", server.BaseUrl], 120,
            new Dictionary<string, string> { ["TORCH_HOME"] = torchHome });
        Assert.Equal(1, code);
        Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(bogus)), error);
        Assert.Contains("does not start with f37072fd", error);
        Assert.Empty(Directory.GetFiles(Path.Combine(torchHome, "hub", "checkpoints")));
    }

    [Fact]
    public void ForwardWritesPyTorchsLogitsAndLayerOutputs()
    {
        string python = PyTorch.Require();
        string folder = TempFolder.Create("forward");
        var (pyCode, pyOut, pyErr) = PyTorch.RunScript("model_parity.py", folder, "resnet18", "--size", "64", "--batch", "2", "--features", "layer1,layer4");
        Assert.True(pyCode == 0, pyOut + pyErr);
        string output = Path.Combine(folder, "ours.safetensors");
        var (code, stdout, error) = CliRunner.Run("forward", "resnet18", "--weights", Path.Combine(folder, "resnet18.weights.pth"),
            "--input", Path.Combine(folder, "resnet18.io.pth"), "--layers", "layer1,layer4", "--output", output);
        Assert.True(code == 0, error);
        Assert.Equal($"wrote {output}: logits [2, 1000], layer1 [2, 64, 16, 16], layer4 [2, 512, 2, 2]", stdout.Trim());

        using var ours = Checkpoint.Load(output);
        using var reference = Checkpoint.Load(Path.Combine(folder, "resnet18.io.pth"));
        var mine = ours.Leaves().ToDictionary(l => l.Key, l => (Tensor)l.Value!);
        var root = (PyDict)reference.Root!;
        ModelParity.AssertClose("forward logits", (Tensor)root["logits"]!, mine["logits"]);
        var features = (PyDict)root["features"]!;
        ModelParity.AssertClose("forward layer1", (Tensor)features["layer1"]!, mine["layer1"]);
        ModelParity.AssertClose("forward layer4", (Tensor)features["layer4"]!, mine["layer4"]);
    }

    [Fact]
    public void ForwardNamesAnUnknownLayer()
    {
        string input = Path.Combine(TempFolder.Create("forward"), "x.safetensors");
        using (var scope = NewDisposeScope())
        {
            var dict = new PyDict { Ordered = true };
            dict["input"] = zeros(1, 3, 32, 32);
            Checkpoint.Save(input, dict);
        }
        var (code, _, error) = CliRunner.Run("forward", "resnet18", "--input", input, "--layers", "layer9", "--output", input + ".out.pth");
        Assert.Equal(1, code);
        Assert.StartsWith("error: no module 'layer9' with a tensor output", error);
        Assert.Contains("layer4", error);
    }
}
