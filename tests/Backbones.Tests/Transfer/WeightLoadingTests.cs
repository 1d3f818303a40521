using System.Text.RegularExpressions;
using Backbones.Models;
using Backbones.Serialization;
using Backbones.Tests.Support;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Tests.Transfer;

public class WeightLoadingTests
{
    /// <summary>A DataParallel-style copy of <paramref name="model"/>'s state: every key under <c>module.</c>.</summary>
    static StateDict Wrapped(nn.Module model, string prefix = "module.")
    {
        var state = new StateDict();
        foreach (var (key, value) in model.OrderedStateDict()) state.Add(prefix + key, value.detach().clone());
        return state;
    }

    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Fact]
    public void LoadsByNameAfterStrippingAPrefixAndSkippingTheHead()
    {
        using var source = ModelZoo.Create("resnet18");
        using var target = ModelZoo.Create("resnet18", new ModelOptions { NumClasses = 7 });
        using var state = Wrapped(source);
        var rules = new LoadRules { StripPrefixes = ["module."], Skip = ["fc.*"] };

        var report = target.LoadStateDict(state, new LoadOptions { Rules = rules, Strict = false });

        Assert.Equal(["module.fc.weight", "module.fc.bias"], report.Skipped.Select(s => s.FileKey));
        Assert.All(report.Skipped, s => Assert.Equal("matches 'fc.*'", s.Reason));
        Assert.Equal(["fc.weight", "fc.bias"], report.Missing);
        Assert.Empty(report.Unexpected);
        Assert.Empty(report.Mismatched);
        Assert.Equal(source.OrderedStateDict().Count - 2, report.Loaded.Count);
        Assert.Equal("module.layer4.1.bn2.running_var", report.Sources["layer4.1.bn2.running_var"]);
        var ours = target.OrderedStateDict().ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var (key, value) in source.OrderedStateDict().Where(kv => !kv.Key.StartsWith("fc.")))
            Assert.True(Same(value, ours[key]), key);
        Assert.Equal([7L, 512], ours["fc.weight"].shape);
        // The source dictionary itself is untouched by the rules.
        Assert.Equal(source.OrderedStateDict().Count, state.Count);
        Assert.StartsWith("module.", state.Keys.First());
    }

    [Fact]
    public void StrictNamesEveryMissingUnexpectedAndMismatchedKeyBeforeCopying()
    {
        using var source = ModelZoo.Create("resnet18", new ModelOptions { NumClasses = 10 });
        using var target = ModelZoo.Create("resnet18");
        using var state = Wrapped(source, "");
        state.Add("extra.weight", zeros(3));
        state.Drop(k => k == "layer1.0.conv1.weight");
        using var before = target.OrderedStateDict().Single(kv => kv.Key == "conv1.weight").Value.clone();

        var error = Assert.Throws<InvalidOperationException>(() => target.LoadStateDict(state, strict: true));

        Assert.Contains("missing 1", error.Message);
        Assert.Contains("unexpected 1", error.Message);
        Assert.Contains("shape-mismatched 2", error.Message);
        Assert.Contains("layer1.0.conv1.weight", error.Message);
        Assert.Contains("extra.weight", error.Message);
        Assert.Contains("fc.weight (model [1000, 512], file [10, 512])", error.Message);
        Assert.True(Same(before, target.OrderedStateDict().Single(kv => kv.Key == "conv1.weight").Value), "nothing copied");
    }

    [Fact]
    public void SelectRenameAndAddPrefixApplyInOrder()
    {
        var rules = new LoadRules
        {
            Select = "model",
            StripPrefixes = ["module."],
            AddPrefix = "backbone.",
            Renames = [(new Regex(@"\.norm\.(\d)"), ".norm$1")],
            SkipPatterns = [new Regex(@"num_batches_tracked$")],
        };
        var plan = rules.Plan(["model.module.features.norm.1.weight", "optimizer.lr", "model.features.conv0.weight", "model.bn.num_batches_tracked"]);
        Assert.Equal([("model.module.features.norm.1.weight", "backbone.features.norm1.weight"), ("model.features.conv0.weight", "backbone.features.conv0.weight")], plan.Mapped);
        Assert.Equal([("optimizer.lr", "outside the selected 'model'"), ("model.bn.num_batches_tracked", "matches /num_batches_tracked$/")], plan.Skipped);
    }

    [Fact]
    public void RulesThatMergeTwoKeysAreRefused()
    {
        var rules = new LoadRules { StripPrefixes = ["module."] };
        var error = Assert.Throws<InvalidOperationException>(() => rules.Plan(["module.fc.weight", "fc.weight"]));
        Assert.Contains("'fc.weight': module.fc.weight and fc.weight", error.Message);
    }

    /// <summary>The recipe for a network whose module names are not torchvision's: pair keys in order, stop before the head.</summary>
    [Fact]
    public void LoadsATorchvisionCheckpointByPositionIntoDifferentlyNamedModules()
    {
        PyTorch.Require();
        string folder = TempFolder.Create("by-position");
        var (code, output, error) = PyTorch.RunScript("write_torchvision_state_dicts.py", folder, "resnet18");
        Assert.True(code == 0, output + error);
        using var state = StateDict.Load(Path.Combine(folder, "resnet18.pth"));

        using var resnet = ModelZoo.Create("resnet18");
        var children = resnet.named_children().Where(c => c.name is not ("avgpool" or "fc")).ToList();
        using var renamed = nn.Sequential(children.Select((c, i) => ($"part{i}", (nn.Module<Tensor, Tensor>)c.module)));

        var report = renamed.LoadStateDict(state, new LoadOptions { ByPosition = new PositionalPairing() });

        int trunk = state.Count - 2;
        Assert.Equal(trunk, report.Loaded.Count);
        Assert.Equal(["fc.weight", "fc.bias"], report.Unexpected);
        Assert.Empty(report.Missing);
        Assert.Equal("conv1.weight", report.Sources["part0.weight"]);
        Assert.Equal("layer4.1.bn2.num_batches_tracked", report.Sources["part7.1.bn2.num_batches_tracked"]);
        var ours = renamed.OrderedStateDict();
        foreach (var ((key, value), (fileKey, fileValue)) in ours.Zip(state.Take(trunk)))
            Assert.True(Same(fileValue, value), $"{key} <- {fileKey}");
    }

    [Fact]
    public void PositionalPairingStopsAtTheFirstPairWhoseShapesDisagree()
    {
        using var source = ModelZoo.Create("resnet18");
        using var state = Wrapped(source, "");
        var swapped = new StateDict();
        var entries = state.ToList();
        (entries[3], entries[4]) = (entries[4], entries[3]);
        (entries[6], entries[7]) = (entries[7], entries[6]);
        foreach (var (k, v) in entries) swapped.Add(k, v);
        using var target = ModelZoo.Create("resnet18");

        var error = Assert.Throws<InvalidOperationException>(() => target.LoadStateDict(swapped, new LoadOptions { ByPosition = new() }));
        // bn1's running mean and variance (both [64]) swapped pass unseen, as in PyTorch's zip recipe; the next swap does not.
        Assert.Contains("pair 6 disagrees in shape: model 'layer1.0.conv1.weight' [64, 64, 3, 3] and checkpoint 'layer1.0.bn1.weight' [64]", error.Message);
    }

    [Fact]
    public void PositionalPairingCanStopAfterACountOrAtAKey()
    {
        using var source = ModelZoo.Create("resnet18");
        using var state = Wrapped(source, "");
        using var a = ModelZoo.Create("resnet18");
        var first = a.LoadStateDict(state, new LoadOptions { ByPosition = new PositionalPairing { Count = 6 } });
        Assert.Equal(["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked"], first.Loaded);
        Assert.Equal(state.Count - 6, first.Missing.Count);
        Assert.Equal(state.Count - 6, first.Unexpected.Count);

        using var b = ModelZoo.Create("resnet18");
        var upTo = b.LoadStateDict(state, new LoadOptions { ByPosition = new PositionalPairing { UpToKey = "layer4.1.bn2.num_batches_tracked" } });
        Assert.Equal(["fc.weight", "fc.bias"], upTo.Missing);
        Assert.Equal("layer4.1.bn2.num_batches_tracked", upTo.Loaded[^1]);

        var unknown = Assert.Throws<ArgumentException>(() => b.LoadStateDict(state, new LoadOptions { ByPosition = new PositionalPairing { UpToKey = "layer9" } }));
        Assert.Contains("'layer9' is not a key of the model", unknown.Message);
    }

    /// <summary>A checkpoint older than BatchNorm's counters has none: pairing skips the model's counters and zeroes them.</summary>
    [Fact]
    public void PositionalPairingOfACheckpointWithoutBatchCountersZeroesThem()
    {
        using var source = ModelZoo.Create("resnet18");
        using var state = Wrapped(source, "");
        state.DropGlob("*.num_batches_tracked");
        using var target = ModelZoo.Create("resnet18");
        foreach (var (_, counter) in target.OrderedStateDict().Where(kv => kv.Key.EndsWith("num_batches_tracked"))) counter.fill_(5);

        var report = target.LoadStateDict(state, new LoadOptions { ByPosition = new(), Strict = true });

        Assert.Equal(20, report.Defaulted.Count);
        Assert.Equal(state.Count, report.Loaded.Count);
        Assert.All(target.OrderedStateDict().Where(kv => kv.Key.EndsWith("num_batches_tracked")), kv => Assert.Equal(0, kv.Value.item<long>()));
    }

    [Fact]
    public void TheReportPrintsAsATableOfWhatWasNotPlainlyLoaded()
    {
        using var source = ModelZoo.Create("resnet18");
        using var target = ModelZoo.Create("resnet18", new ModelOptions { NumClasses = 3 });
        using var state = Wrapped(source);
        var report = target.LoadStateDict(state, new LoadOptions { Rules = new LoadRules { StripPrefixes = ["module."] } });
        var text = new StringWriter();
        report.WriteTable(text);
        var lines = text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd()).ToList();

        Assert.Equal("loaded 120, skipped 0, missing 0, unexpected 0, shape-mismatched 2", lines[0]);
        Assert.Matches(@"^status\s+model key\s+checkpoint key\s+shapes\s+why$", lines[1]);
        Assert.Matches(@"^loaded\s+conv1\.weight\s+module\.conv1\.weight$", lines[2]);
        Assert.Matches(@"^mismatched\s+fc\.weight\s+module\.fc\.weight\s+\[3, 512\] vs \[1000, 512\]\s+model vs checkpoint shape$", lines[^2]);
        Assert.Equal(2 + 120 + 2, lines.Count);
    }
}
