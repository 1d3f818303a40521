using Backbones.Detection;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Tests.Detection;

/// <summary>FrozenBatchNorm2d against torchvision.ops.FrozenBatchNorm2d: buffers, output, and loading a BatchNorm's checkpoint.</summary>
public sealed class FrozenBatchNorm2dTests
{
    static Checkpoint Reference()
    {
        string folder = TempFolder.Create("frozen-bn");
        var (code, output, error) = PyTorch.RunScript("fpn_reference.py", "frozen_bn", folder);
        Assert.True(code == 0, output + error);
        return Checkpoint.Load(Path.Combine(folder, "frozen_bn.io.pth"));
    }

    [Fact]
    public void HoldsFourBuffersAndNoParameters()
    {
        using var norm = new FrozenBatchNorm2d(8);
        Assert.Empty(norm.parameters());
        Assert.Equal(["weight", "bias", "running_mean", "running_var"], norm.OrderedStateDict().Select(kv => kv.Key));
        Assert.Equal(1e-5, norm.Eps);
        var state = norm.state_dict();
        Assert.Equal(8, state["weight"].sum().item<float>());
        Assert.Equal(8, state["running_var"].sum().item<float>());
        Assert.Equal(0, state["bias"].abs().sum().item<float>());
        Assert.Equal(0, state["running_mean"].abs().sum().item<float>());
    }

    [Fact]
    public void MatchesTorchvisionOnRandomStatistics()
    {
        using var io = Reference();
        var root = (PyDict)io.Root!;
        using var norm = new FrozenBatchNorm2d(8);
        Assert.Equal(((List<object?>)root["keys"]!).Cast<string>(), norm.OrderedStateDict().Select(kv => kv.Key));
        using var state = StateDict.Load(io.Path, "state");
        var report = norm.LoadStateDict(state, strict: true);
        Assert.Equal(4, report.Loaded.Count);

        // Train mode changes nothing: the statistics are fixed.
        norm.train();
        using var y = norm.call((Tensor)root["input"]!);
        double maxAbs = (y - (Tensor)root["output"]!).abs().max().item<float>();
        TestContext.Current.TestOutputHelper?.WriteLine($"FrozenBatchNorm2d max |a-b| {maxAbs:E2}");
        Assert.True(maxAbs <= 1e-6, $"max |a-b| {maxAbs:E3}");
    }

    [Fact]
    public void LoadingABatchNormCheckpointSkipsItsBatchCounterAsTorchvisionDoes()
    {
        using var io = Reference();
        var root = (PyDict)io.Root!;
        // What torchvision's load_state_dict reported for the same file: nothing missing, nothing unexpected.
        Assert.Empty((List<object?>)root["missing"]!);
        Assert.Empty((List<object?>)root["unexpected"]!);

        using var state = StateDict.Load(io.Path, "bn_state");
        Assert.True(state.ContainsKey("num_batches_tracked"));
        using var norm = new FrozenBatchNorm2d(8);
        var report = norm.LoadStateDict(state, strict: true);

        Assert.True(report.IsComplete, report.ToString());
        Assert.Equal(["weight", "bias", "running_mean", "running_var"], report.Loaded);
        Assert.Equal(["num_batches_tracked"], report.Skipped.Select(s => s.FileKey));
        Assert.Contains("FrozenBatchNorm2d", report.Skipped[0].Reason);
        norm.eval();
        using var y = norm.call((Tensor)root["input"]!);
        Assert.True((y - (Tensor)root["bn_loaded_output"]!).abs().max().item<float>() <= 1e-6);
    }

    [Fact]
    public void ABatchCounterOfAnotherModuleIsStillUnexpected()
    {
        using var model = nn.Sequential(("norm", new FrozenBatchNorm2d(4)), ("conv", nn.Conv2d(4, 4, 1)));
        using var state = new StateDict();
        foreach (var (key, value) in model.OrderedStateDict()) state.Add(key, value.clone());
        state.Add("norm.num_batches_tracked", tensor(3L));
        state.Add("conv.num_batches_tracked", tensor(3L));

        var report = model.LoadStateDict(state, strict: false);

        Assert.Equal(["norm.num_batches_tracked"], report.Skipped.Select(s => s.FileKey));
        Assert.Equal(["conv.num_batches_tracked"], report.Unexpected);
        var error = Assert.Throws<InvalidOperationException>(() => model.LoadStateDict(state, strict: true));
        Assert.Contains("conv.num_batches_tracked", error.Message);
    }

    [Fact]
    public void RefusesInputWithOtherChannels()
    {
        using var norm = new FrozenBatchNorm2d(8);
        var error = Assert.Throws<ArgumentException>(() => norm.call(zeros(1, 3, 4, 4)));
        Assert.Contains("FrozenBatchNorm2d(8)", error.Message);
        Assert.Contains("[1, 3, 4, 4]", error.Message);
    }
}
