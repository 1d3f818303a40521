using Backbones.Models;
using Backbones.Serialization;
using Backbones.Tests.Support;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Tests.Transfer;

/// <summary>
/// FeatureExtractor: named modules' outputs equal torchvision's create_feature_extractor on the same weights, the forward
/// stops after the last of them, and nothing (hooks, tensors) is left behind.
/// </summary>
public sealed class FeatureExtractorTests
{
    [Theory]
    [InlineData("resnet50", new[] { "layer1", "layer2", "layer3", "layer4", "layer3.2.conv1" })]
    [InlineData("densenet121", new[] { "features.denseblock3", "features.transition1.conv" })]
    [InlineData("mobilenet_v3_large", new[] { "features.4.block.2", "features.12" })]
    public void MatchesTorchvisionsCreateFeatureExtractor(string name, string[] paths)
    {
        using var reference = TorchvisionFeatures.Run(name, 64, paths, batch: 2);
        using var scope = NewDisposeScope();
        using var extractor = FeatureExtractor.Create(reference.Model(name), paths);
        IReadOnlyDictionary<string, Tensor> outputs;
        using (no_grad()) outputs = extractor.call(reference.Input);

        Assert.Equal(paths, outputs.Keys);
        foreach (var path in paths) ModelParity.AssertClose($"{name} {path}", reference.Nodes[path], outputs[path]);
    }

    [Fact]
    public void StopsAfterTheLastRequestedModule()
    {
        using var model = ModelZoo.Create("resnet18");
        model.eval();
        var modules = model.named_modules().ToDictionary(m => m.name, m => (nn.Module<Tensor, Tensor>)m.module);
        var calls = new Dictionary<string, int>();
        string[] watched = ["layer1", "layer2", "layer3", "layer4", "fc"];
        var hooks = watched.Select(path =>
        {
            calls[path] = 0;
            return modules[path].register_forward_hook((_, _, _) => { calls[path]++; return null!; });
        }).ToList();

        using var scope = NewDisposeScope();
        using var extractor = FeatureExtractor.Create(model, ["layer2", "layer1"]);
        var x = randn(1, 3, 64, 64);
        IReadOnlyDictionary<string, Tensor> outputs;
        using (no_grad()) outputs = extractor.call(x);

        Assert.Equal(["layer2", "layer1"], outputs.Keys);
        Assert.Equal([1L, 128, 8, 8], outputs["layer2"].shape);
        Assert.Equal([1L, 64, 16, 16], outputs["layer1"].shape);
        Assert.Equal(new Dictionary<string, int> { ["layer1"] = 1, ["layer2"] = 1, ["layer3"] = 0, ["layer4"] = 0, ["fc"] = 0 }, calls);

        // The model runs whole again (the extractor's hooks are gone), and the counters do count later layers.
        using (no_grad()) model.call(x);
        Assert.Equal(new Dictionary<string, int> { ["layer1"] = 2, ["layer2"] = 2, ["layer3"] = 1, ["layer4"] = 1, ["fc"] = 1 }, calls);
        foreach (var h in hooks) h.remove();
    }

    [Fact]
    public void OutputsAreWhatTheModulesEmittedDespiteLaterInPlaceOperations()
    {
        // layer1.0.bn2's output is added to in place by its block (y.add_(identity)); layer1.0.conv1's feeds bn1 only.
        using var model = ModelZoo.Create("resnet18");
        model.eval();
        using var scope = NewDisposeScope();
        var x = randn(1, 3, 32, 32);
        string[] paths = ["layer1.0.bn2", "layer1.0.conv2", "layer2"];
        using var capture = FeatureCapture.Attach(model, paths);
        using (no_grad()) model.call(x);
        using var extractor = FeatureExtractor.Create(model, paths);
        IReadOnlyDictionary<string, Tensor> outputs;
        using (no_grad()) outputs = extractor.call(x);

        var bn2 = (nn.Module<Tensor, Tensor>)model.named_modules().First(m => m.name == "layer1.0.bn2").module;
        using (no_grad()) Assert.True(bn2.call(outputs["layer1.0.conv2"]).equal(outputs["layer1.0.bn2"]).all().item<bool>());
        foreach (var path in paths) Assert.True(capture.Outputs[path].equal(outputs[path]).all().item<bool>(), path);
    }

    [Fact]
    public void LeavesNoTensorsOrHooksBehind()
    {
        using var model = ModelZoo.Create("resnet18");
        model.eval();
        var x = randn(1, 3, 32, 32);
        Tensor expected;
        using (no_grad()) expected = model.call(x);
        using var extractor = FeatureExtractor.Create(model, ["layer1.1.conv1", "layer3"]);

        void ForwardAndDispose()
        {
            using var scope = NewDisposeScope();
            using (no_grad())
            {
                var outputs = extractor.call(x);
                Assert.Equal([1L, 256, 2, 2], outputs["layer3"].shape);
            }
        }
        ForwardAndDispose();
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 3; i++) ForwardAndDispose();
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);

        // Without a dispose scope the caller owns the outputs: exactly the two of them stay alive until disposed.
        IReadOnlyDictionary<string, Tensor> kept;
        using (no_grad()) kept = extractor.call(x);
        Assert.Equal(live + 2, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        foreach (var t in kept.Values) t.Dispose();
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);

        using (no_grad())
        {
            using var logits = model.call(x);
            Assert.True(logits.equal(expected).all().item<bool>());
        }
        expected.Dispose();
    }

    [Fact]
    public void AModuleThatNeverRunsIsAnErrorThatLeavesNothingBehind()
    {
        using var model = new TwoBranches();
        using var extractor = FeatureExtractor.Create(model, ["used", "unused"]);
        var x = randn(2, 4);
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var error = Assert.Throws<InvalidOperationException>(() => extractor.call(x));
        Assert.Equal("a forward of TwoBranches never ran 'unused'", error.Message);
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        using var y = model.call(x);
        Assert.Equal([2L, 3], y.shape);
    }

    [Fact]
    public void FeaturesKeepTheirGradient()
    {
        using var model = ModelZoo.Create("resnet18");
        using var extractor = FeatureExtractor.Create(model, ["layer2"]);
        using var scope = NewDisposeScope();
        extractor.call(randn(2, 3, 32, 32))["layer2"].square().mean().backward();
        var grads = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad);
        Assert.True(grads["conv1.weight"]!.abs().sum().item<float>() > 0);
        Assert.True(grads["layer2.1.conv2.weight"]!.abs().sum().item<float>() > 0);
        Assert.Null(grads["layer3.0.conv1.weight"]);
        Assert.Null(grads["fc.weight"]);
    }

    [Fact]
    public void KeysAreTheModelsUpToTheChildHoldingTheLastRequestedModule()
    {
        using var model = ModelZoo.Create("resnet18");
        var all = model.OrderedStateDict().Select(kv => kv.Key).ToList();
        using var extractor = FeatureExtractor.Create(model, ["layer2.1.bn1", "layer1"]);
        string[] kept = ["conv1.", "bn1.", "layer1.", "layer2."];
        Assert.Equal(all.Where(k => kept.Any(k.StartsWith)), extractor.OrderedStateDict().Select(kv => kv.Key));
        Assert.Equal(["conv1", "bn1", "relu", "maxpool", "layer1", "layer2"], extractor.named_children().Select(c => c.name));

        using var state = new StateDict();
        foreach (var (key, value) in model.OrderedStateDict()) state.Add(key, value.clone());
        var report = extractor.LoadStateDict(state, strict: false);
        Assert.Empty(report.Missing);
        Assert.Equal(all.Where(k => k.StartsWith("layer3.") || k.StartsWith("layer4.") || k.StartsWith("fc.")), report.Unexpected);
    }

    [Fact]
    public void RefusesPathsItCannotHook()
    {
        using var model = ModelZoo.Create("resnet18");
        var unknown = Assert.Throws<ArgumentException>(() => FeatureExtractor.Create(model, ["layer9"]));
        Assert.Equal("no module 'layer9' with a tensor output in resnet18; top-level modules: conv1, bn1, relu, maxpool, layer1, layer2, layer3, layer4, avgpool, fc",
            unknown.Message);
        var nested = Assert.Throws<ArgumentException>(() => FeatureExtractor.Create(model, ["layer3.2.conv1"]));
        Assert.Equal("no module 'layer3.2.conv1' with a tensor output in resnet18; modules under 'layer3': 0, 1", nested.Message);
        var twice = Assert.Throws<ArgumentException>(() => FeatureExtractor.Create(model, ["layer1", "layer1"]));
        Assert.Equal("module 'layer1' requested twice", twice.Message);
        Assert.Throws<ArgumentException>(() => FeatureExtractor.Create(model, []));
    }

    [Fact]
    public void AnExtractorInsideTheModelLetsTheOuterOneStopIt()
    {
        using var outer = FeatureExtractor.Create(new ThroughExtractor(ModelZoo.Create("resnet18"), "layer3"), ["body.layer1"]);
        using var scope = NewDisposeScope();
        IReadOnlyDictionary<string, Tensor> outputs;
        using (no_grad()) outputs = outer.call(randn(1, 3, 32, 32));
        Assert.Equal([1L, 64, 8, 8], outputs["body.layer1"].shape);
    }

    /// <summary>A model whose forward is an inner extractor's one output.</summary>
    sealed class ThroughExtractor : nn.Module<Tensor, Tensor>
    {
        readonly FeatureExtractor body;
        readonly string _path;

        public ThroughExtractor(Backbone model, string path) : base(nameof(ThroughExtractor))
        {
            body = FeatureExtractor.Create(model, [path]);
            _path = path;
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => body.call(x)[_path];
    }

    /// <summary>A module with a child its forward never calls.</summary>
    sealed class TwoBranches : nn.Module<Tensor, Tensor>
    {
        readonly nn.Module<Tensor, Tensor> used = nn.Linear(4, 3);
        readonly nn.Module<Tensor, Tensor> unused = nn.Linear(4, 3);

        public TwoBranches() : base(nameof(TwoBranches)) => RegisterComponents();

        public override Tensor forward(Tensor x) => used.call(x);
    }
}
