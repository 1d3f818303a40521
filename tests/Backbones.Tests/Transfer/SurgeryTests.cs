using Backbones.Models;
using Backbones.Transfer;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Tests.Transfer;

/// <summary>
/// Replacing and inserting modules by path: the forward runs the new module (wherever the old one was held: a
/// Sequential, a field, an array), state-dict keys keep their order, refusals name the path and leave the model as it was.
/// </summary>
public sealed class SurgeryTests
{
    [Theory]
    [InlineData("resnet18", "layer2.0.conv1")]            // a field of a block
    [InlineData("resnet18", "layer2.0.downsample.0")]     // inside a Sequential
    [InlineData("vgg11", "features.3")]                   // a Sequential of a family
    [InlineData("efficientnet_b0", "features.0.0")]       // a Sequential subclass (Conv2dNormActivation)
    [InlineData("densenet121", "features.denseblock1.denselayer2.conv2")]
    public void ReplacedConvolutionIsTheOneTheForwardRuns(string name, string path)
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var model = ModelZoo.Create(name);
        model.eval();
        var keys = model.OrderedStateDict().Select(kv => kv.Key).ToList();
        var x = randn(1, 3, 64, 64);
        Tensor expected;
        using (no_grad()) expected = model.call(x);
        var old = (Conv2d)Find(model, path);

        var copy = CopyOf(old);
        int calls = 0;
        copy.register_forward_hook((_, _, _) => { calls++; return null!; });
        var report = Surgery.ReplaceModule(model, path, copy);

        Assert.Same(old, report.Replaced);
        Assert.Same(copy, Find(model, path));
        Assert.Equal(keys, model.OrderedStateDict().Select(kv => kv.Key).ToList());
        Assert.False(copy.training, "the new module does not follow the eval mode of its container");
        using (no_grad())
        {
            Assert.True(expected.allclose(model.call(x), rtol: 1e-5, atol: 1e-6), "a copy of the convolution changed the output");
            Assert.Equal(1, calls);
            copy.weight.mul_(2);
            Assert.False(expected.allclose(model.call(x), rtol: 1e-3, atol: 0), "doubling the new convolution's weights did not change the output");
        }
        old.Dispose();
    }

    [Fact]
    public void ReplacesADenseLayerHeldInAnArray()
    {
        using var scope = NewDisposeScope();
        using var model = ModelZoo.Create("densenet121");
        const string path = "features.denseblock2.denselayer3";
        var fresh = new DenseNet.DenseLayer(128 + 2 * 32, 32, 4, 0);
        int calls = 0;
        fresh.register_forward_hook((_, _, _) => { calls++; return null!; });

        var report = Surgery.ReplaceModule(model, path, fresh);

        Assert.IsType<DenseNet.DenseLayer>(report.Replaced);
        model.eval();
        using (no_grad()) model.call(randn(1, 3, 64, 64));
        Assert.Equal(1, calls);
        report.Replaced.Dispose();
    }

    [Fact]
    public void ReportsWhatWasReplaced()
    {
        using var model = ModelZoo.Create("resnet18");
        var report = Surgery.ReplaceModule(model, "fc", nn.Linear(512, 5));
        Assert.Equal("fc: Linear(512, 1000) (513,000 parameters) replaced by Linear(512, 5) (2,565 parameters)", report.ToString());
        Assert.Equal(5, model.NumClasses);
        report.Replaced.Dispose();
    }

    [Fact]
    public void RefusesAReplacementTheFieldCannotHoldAndChangesNothing()
    {
        using var scope = NewDisposeScope();
        using var model = ModelZoo.Create("resnet18");
        var fc = Find(model, "fc");
        var head = nn.Sequential(nn.Dropout(0.5), nn.Linear(512, 10));

        var error = Assert.Throws<ArgumentException>(() => Surgery.ReplaceModule(model, "fc", head));

        Assert.Contains("'fc' is held by ResNet.fc, typed Linear; a Sequential cannot take its place", error.Message);
        Assert.Same(fc, Find(model, "fc"));
        Assert.Equal("fc.bias", model.OrderedStateDict().Last().Key);
        head.Dispose();
    }

    [Fact]
    public void MissingPathsAreNamedWithTheChildrenThatExist()
    {
        using var model = ModelZoo.Create("resnet18");
        var error = Assert.Throws<ArgumentException>(() => Surgery.ReplaceModule(model, "layer2.7.conv1", nn.Identity()));
        Assert.Contains("no module 'layer2.7.conv1' in ResNet: 'layer2' has no child '7' (its children: 0, 1)", error.Message);
    }

    [Fact]
    public void InsertsIntoASequentialAfterAndBeforeAPath()
    {
        using var scope = NewDisposeScope();
        using var model = ModelZoo.Create("vgg11");
        model.eval();
        var norm = nn.BatchNorm2d(64);
        var dropout = nn.Dropout2d(0.1);

        var after = Surgery.InsertAfter(model, "features.0", "norm", norm);
        var before = Surgery.InsertBefore(model, "features.3", "drop", dropout);

        Assert.Equal("inserted features.norm: BatchNorm2d (128 parameters) at position 1 of features", after.ToString());
        Assert.Equal(("features.drop", 4), (before.Path, before.Index));
        Assert.Equal(["0", "norm", "1", "2", "drop", "3"], Find(model, "features").named_children().Take(6).Select(c => c.name));
        var keys = model.OrderedStateDict().Select(kv => kv.Key).Take(9).ToList();
        Assert.Equal(["features.0.weight", "features.0.bias", "features.norm.weight", "features.norm.bias", "features.norm.running_mean",
            "features.norm.running_var", "features.norm.num_batches_tracked", "features.3.weight", "features.3.bias"], keys);
        Assert.False(norm.training || dropout.training, "inserted modules do not follow the model's eval mode");

        // The forward runs the BatchNorm: shifting its running mean changes the logits.
        var x = randn(1, 3, 32, 32);
        Tensor first;
        using (no_grad())
        {
            first = model.call(x);
            norm.running_mean!.fill_(0.5);
            Assert.False(first.allclose(model.call(x)), "the inserted BatchNorm is not run");
        }
    }

    [Fact]
    public void AppendsANeckToTheLastStage()
    {
        using var scope = NewDisposeScope();
        using var model = ModelZoo.Create("resnet18");
        var neck = nn.Conv2d(512, 512, 1);

        var report = Surgery.Append(model, "layer4", "neck", neck);

        Assert.Equal(("layer4.neck", 2), (report.Path, report.Index));
        var keys = model.OrderedStateDict().Select(kv => kv.Key).ToList();
        Assert.Equal(["layer4.neck.weight", "layer4.neck.bias", "fc.weight", "fc.bias"], keys.TakeLast(4));
        model.eval();
        int calls = 0;
        neck.register_forward_hook((_, _, _) => { calls++; return null!; });
        using (no_grad()) Assert.Equal([1L, 1000], model.call(randn(1, 3, 64, 64)).shape);
        Assert.Equal(1, calls);
    }

    [Fact]
    public void RefusesInsertionsOutsideSequentialsAndClashingNames()
    {
        using var model = ModelZoo.Create("resnet18");
        var fixedCode = Assert.Throws<ArgumentException>(() => Surgery.InsertAfter(model, "layer4", "neck", nn.Identity()));
        Assert.Contains("'layer4' is a child of ResNet ('(root)'), whose forward is fixed code, not a Sequential", fixedCode.Message);
        Assert.Contains("StageNetwork", fixedCode.Message);
        Assert.Contains("'fc' is a Linear, not a Sequential", Assert.Throws<ArgumentException>(() => Surgery.Append(model, "fc", "x", nn.Identity())).Message);
        Assert.Contains("'layer4' already has a child named '1'", Assert.Throws<ArgumentException>(() => Surgery.Append(model, "layer4", "1", nn.Identity())).Message);
        Assert.Contains("'a.b' is not a module name", Assert.Throws<ArgumentException>(() => Surgery.Append(model, "layer4", "a.b", nn.Identity())).Message);
        Assert.Equal(["0", "1"], Find(model, "layer4").named_children().Select(c => c.name));
    }

    static nn.Module Find(nn.Module model, string path) => model.named_modules().Single(m => m.name == path).module;

    static Conv2d CopyOf(Conv2d c)
    {
        var copy = nn.Conv2d(c.in_channels, c.out_channels, (c.kernel_size[0], c.kernel_size[1]), stride: (c.stride[0], c.stride[1]),
            padding: (c.padding![0], c.padding[1]), dilation: (c.dilation[0], c.dilation[1]), groups: c.groups, bias: c.bias is not null);
        using var _ = no_grad();
        copy.weight.copy_(c.weight);
        copy.bias?.copy_(c.bias!);
        return copy;
    }
}
