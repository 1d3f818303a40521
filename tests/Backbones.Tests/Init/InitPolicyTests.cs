using Backbones.Init;
using Backbones.Models;
using Backbones.Serialization;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Tests.Init;

/// <summary>Initialising a model by module type in one call: which parameters get which scheme, in what order, and selection.</summary>
public sealed class InitPolicyTests
{
    static Dictionary<string, Tensor> Snapshot(nn.Module model) =>
        model.OrderedStateDict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

    static double Std(Tensor t) => t.to_type(ScalarType.Float64).std().item<double>();

    [Fact]
    public void KaimingFanOutReluInitialisesEveryParameterOfAResNetInPyTorchsOrder()
    {
        using var model = ModelZoo.Create("resnet18");
        var report = model.Initialize(InitPolicy.KaimingFanOutRelu, new InitOptions { Generator = new Generator(seed: 3) });

        var parameterKeys = model.OrderedStateDict().Select(kv => kv.Key).Where(k => !k.Contains("running_") && !k.EndsWith("num_batches_tracked")).ToList();
        Assert.Equal(parameterKeys, report.Initialised.Select(e => e.Key).ToList());
        Assert.Empty(report.Kept);
        Assert.Equal(20, report.Initialised.Count(e => e.Scheme == "kaiming_normal_(mode=fan_out, nonlinearity=relu)"));

        var state = model.OrderedStateDict().ToDictionary(kv => kv.Key, kv => kv.Value);
        var conv = state["layer3.1.conv2.weight"]; // [256, 256, 3, 3]: 589,824 draws, std within 0.6% (6 standard errors)
        double expected = Math.Sqrt(2.0 / (256 * 9));
        Assert.InRange(Std(conv), expected * 0.994, expected * 1.006);
        Assert.InRange(Std(state["fc.weight"]), 0.01 * 0.99, 0.01 * 1.01); // 512,000 draws
        Assert.Equal(0f, state["fc.bias"].abs().max().item<float>());
        Assert.Equal(1f, state["layer4.0.downsample.1.weight"].min().item<float>());
        Assert.Equal(0f, state["layer4.0.downsample.1.bias"].abs().max().item<float>());

        string text = report.ToString();
        Assert.StartsWith("kaiming-fan-out-relu: initialised 62 parameters, kept 0, skipped 0", text);
        Assert.Contains("Conv2d kaiming_normal_(mode=fan_out, nonlinearity=relu): conv1.weight, layer1.0.conv1.weight,", text);
        Assert.Contains("Linear normal_(0, 0.01): fc.weight", text);
    }

    [Fact]
    public void TorchvisionResNetKeepsTheLinearLayerAndSaysWhy()
    {
        using var model = ModelZoo.Create("resnet18");
        var before = Snapshot(model);
        var report = model.Initialize(InitPolicy.TorchvisionResNet);
        Assert.Equal([("fc.weight", "no Linear weight scheme"), ("fc.bias", "no Linear bias scheme")], report.Kept);
        Assert.True(before["fc.weight"].allclose(model.OrderedStateDict().First(kv => kv.Key == "fc.weight").Value, 0, 0));
        Assert.Contains("kept (no Linear weight scheme): fc.weight", report.ToString());
    }

    [Fact]
    public void OnlyTheGivenModulePathsChange()
    {
        using var model = ModelZoo.Create("resnet18");
        var before = Snapshot(model);
        var report = model.Initialize(InitPolicy.Normal001, ["fc", "layer4.1"]);

        var changed = model.OrderedStateDict().Where(kv => !kv.Value.allclose(before[kv.Key], 0, 0)).Select(kv => kv.Key).ToList();
        Assert.Equal(["layer4.1.conv1.weight", "layer4.1.conv2.weight", "fc.weight", "fc.bias"], changed);
        Assert.Equal(["layer4.1.conv1.weight", "layer4.1.bn1.weight", "layer4.1.bn1.bias", "layer4.1.conv2.weight", "layer4.1.bn2.weight", "layer4.1.bn2.bias", "fc.weight", "fc.bias"],
            report.Initialised.Select(e => e.Key)); // BatchNorm's 1 and 0 were already there: set, not changed
    }

    [Fact]
    public void ALoadReportSelectsTheNewHeadOnly()
    {
        using var source = ModelZoo.Create("resnet18");
        using var checkpoint = new StateDict();
        foreach (var (key, tensor) in source.OrderedStateDict().Where(kv => !kv.Key.StartsWith("fc.")))
            checkpoint.Add(key, tensor.detach().clone());
        using var model = ModelZoo.Create("resnet18", new ModelOptions { NumClasses = 10 });
        var load = model.LoadStateDict(checkpoint, strict: false);

        var report = model.InitializeNotLoaded(InitPolicy.XavierNormal, load);

        Assert.Equal(["fc.weight", "fc.bias"], report.Initialised.Select(e => e.Key));
        var state = model.OrderedStateDict().ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.All(checkpoint, kv => Assert.True(kv.Value.allclose(state[kv.Key], 0, 0), kv.Key));
        Assert.Equal(0f, state["fc.bias"].abs().max().item<float>());
        // xavier_normal_ on [10, 512]: every draw within 6 std of N(0, 2 / 522) (5,120 draws; a draw past 6 std: 1e-9 each).
        Assert.InRange(state["fc.weight"].abs().max().item<float>(), 0, 6 * Math.Sqrt(2.0 / 522));
    }

    [Fact]
    public void SkippedKeysAreLeftAndReported()
    {
        using var model = ModelZoo.Create("resnet18");
        var before = Snapshot(model);
        var report = model.Initialize(InitPolicy.Normal001, new InitOptions { Only = ["fc"], Skip = ["fc.weight"] });
        Assert.Equal(["fc.bias"], report.Initialised.Select(e => e.Key));
        Assert.Equal(["fc.weight"], report.Skipped);
        Assert.True(before["fc.weight"].allclose(model.OrderedStateDict().First(kv => kv.Key == "fc.weight").Value, 0, 0));
    }

    [Fact]
    public void APredicateSelectsModules()
    {
        using var model = ModelZoo.Create("resnet18");
        var report = model.Initialize(InitPolicy.XavierNormal, new InitOptions { Where = (path, _) => path.StartsWith("layer1.0.") });
        Assert.Equal(["layer1.0.conv1.weight", "layer1.0.bn1.weight", "layer1.0.bn1.bias", "layer1.0.conv2.weight", "layer1.0.bn2.weight", "layer1.0.bn2.bias"],
            report.Initialised.Select(e => e.Key));
    }

    [Fact]
    public void RefusesAPathTheModelLacksNamingIt()
    {
        using var model = ModelZoo.Create("resnet18");
        var error = Assert.Throws<ArgumentException>(() => model.Initialize(InitPolicy.XavierNormal, ["layer5", "fc.weight", "classifier.6"]));
        Assert.Equal("no module or state-dict key 'layer5', 'classifier.6' in ResNet; top-level modules: conv1, bn1, relu, maxpool, layer1, layer2, layer3, layer4, avgpool, fc", error.Message);
    }

    [Fact]
    public void CoversTransposedConvolutionsAndEveryNormalisationLayer()
    {
        using var model = nn.Sequential(
            ("up", nn.ConvTranspose2d(64, 32, 4)),   // weight [64, 32, 4, 4]: fan_in 512, fan_out 1024
            ("gn", nn.GroupNorm(4, 32)),
            ("conv1d", nn.Conv1d(8, 16, 3, bias: false)),
            ("ln", nn.LayerNorm(16)),
            ("bn1d", nn.BatchNorm1d(16)),
            ("inorm", nn.InstanceNorm2d(16, affine: true)),
            ("act", nn.ReLU()));
        using (no_grad()) foreach (var p in model.parameters()) p.fill_(7);

        var report = model.Initialize(InitPolicy.Xavier(gain: 2), new InitOptions { Generator = new Generator(seed: 5) });

        Assert.Equal(["up.weight", "up.bias", "gn.weight", "gn.bias", "conv1d.weight", "ln.weight", "ln.bias", "bn1d.weight", "bn1d.bias", "inorm.weight", "inorm.bias"],
            report.Initialised.Select(e => e.Key));
        var state = model.OrderedStateDict().ToDictionary(kv => kv.Key, kv => kv.Value);
        double expected = 2 * Math.Sqrt(2.0 / (512 + 1024)); // 32,768 draws: within 2.4% (6 standard errors)
        Assert.InRange(Std(state["up.weight"]), expected * 0.976, expected * 1.024);
        foreach (var norm in new[] { "gn", "ln", "bn1d", "inorm" })
        {
            Assert.Equal(1f, state[$"{norm}.weight"].min().item<float>());
            Assert.Equal(1f, state[$"{norm}.weight"].max().item<float>());
            Assert.Equal(0f, state[$"{norm}.bias"].abs().max().item<float>());
        }
        Assert.Equal(0f, state["up.bias"].abs().max().item<float>());
    }

    [Fact]
    public void TheSameGeneratorSeedGivesTheSameModel()
    {
        using var a = ModelZoo.Create("squeezenet1_1");
        using var b = ModelZoo.Create("squeezenet1_1");
        a.Initialize(InitPolicy.Kaiming(), new InitOptions { Generator = new Generator(seed: 42) });
        b.Initialize(InitPolicy.Kaiming(), new InitOptions { Generator = new Generator(seed: 42) });
        Assert.All(a.OrderedStateDict().Zip(b.OrderedStateDict()), pair => Assert.True(pair.First.Value.allclose(pair.Second.Value, 0, 0), pair.First.Key));
    }

    [Fact]
    public void TorchDefaultMatchesWhatTheConstructorsDo()
    {
        // nn.Linear(400, 100): weight and bias U(±1/sqrt(400)) = U(±0.05); std 0.05 / sqrt(3).
        using var linear = nn.Linear(400, 100);
        using (no_grad()) { linear.weight!.fill_(7); linear.bias!.fill_(7); }
        var report = linear.Initialize(InitPolicy.TorchDefault);
        Assert.Equal([("weight", "Linear", "kaiming_uniform_(a=sqrt(5))"), ("bias", "Linear", "uniform_(±1/sqrt(weight fan_in))")], report.Initialised);
        Assert.InRange(linear.weight!.abs().max().item<float>(), 0.05 * (1 - 20.0 / 40_000), 0.05);
        Assert.InRange(linear.bias!.abs().max().item<float>(), 0, 0.05);
        Assert.InRange(Std(linear.weight!), 0.05 / Math.Sqrt(3) * 0.985, 0.05 / Math.Sqrt(3) * 1.015); // 40,000 draws
    }

    [Fact]
    public void TorchvisionFamilyPresetsUseTheirFamilysFormulas()
    {
        using var conv = nn.Conv2d(128, 256, 3);
        using var linear = nn.Linear(1280, 1000);

        conv.Initialize(InitPolicy.TorchvisionDenseNet); // kaiming_normal_ fan_in, gain sqrt(2): std sqrt(2 / 1152); bias left
        Assert.InRange(Std(conv.weight!), Math.Sqrt(2.0 / 1152) * 0.98, Math.Sqrt(2.0 / 1152) * 1.02);
        Assert.NotEqual(0f, conv.bias!.abs().max().item<float>());

        conv.Initialize(InitPolicy.TorchvisionEfficientNet); // kaiming_normal_ fan_out: std sqrt(2 / 2304); bias 0
        Assert.InRange(Std(conv.weight!), Math.Sqrt(2.0 / 2304) * 0.98, Math.Sqrt(2.0 / 2304) * 1.02);
        Assert.Equal(0f, conv.bias!.abs().max().item<float>());

        linear.Initialize(InitPolicy.TorchvisionEfficientNet); // U(±1/sqrt(out_features))
        Assert.InRange(linear.weight!.abs().max().item<float>(), 1 / Math.Sqrt(1000) * 0.999, 1 / Math.Sqrt(1000));

        linear.Initialize(InitPolicy.TorchvisionConvNeXt); // trunc_normal_(std 0.02) cut at ±2 (100 std: a plain normal)
        Assert.InRange(Std(linear.weight!), 0.02 * 0.99, 0.02 * 1.01);
    }
}
