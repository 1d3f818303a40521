using Backbones.Models;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Tests.Support;

/// <summary>
/// Contract checks of a built backbone that need no PyTorch: classifier replacement leaves every other tensor as it
/// was, and each FeatureInfo level has the channels and (nominal) stride it declares.
/// </summary>
public static class BackboneChecks
{
    /// <summary>
    /// ResetClassifier(<paramref name="numClasses"/>): same keys in the same order, every tensor outside the classifier
    /// unchanged (values, not just shapes), classifier resized and in the model's eval mode, NumClasses and the logits follow, pre-logits keep NumFeatures.
    /// </summary>
    public static void ResetClassifierKeepsTheRest(string name, long numClasses, int size, Action<Backbone>? checkFreshClassifier = null)
    {
        using var scope = NewDisposeScope();
        using var model = ModelZoo.Create(name);
        var before = model.OrderedStateDict().Select(kv => (kv.Key, Value: kv.Value.detach().clone())).ToList();
        string prefix = model.ClassifierPath + ".";
        Assert.NotEqual(numClasses, model.NumClasses);

        model.eval();
        model.ResetClassifier(numClasses);
        Assert.All(model.named_modules(), m => Assert.False(m.module.training, $"{m.name} left in train mode by ResetClassifier"));

        var after = model.OrderedStateDict().ToList();
        Assert.Equal(before.Select(b => b.Key), after.Select(a => a.Key));
        foreach (var ((key, old), (_, now)) in before.Zip(after))
        {
            if (key.StartsWith(prefix, StringComparison.Ordinal))
            {
                Assert.Equal(numClasses, now.shape[0]);
                Assert.Equal(old.shape[1..], now.shape[1..]);
            }
            else
            {
                Assert.Equal(old.shape, now.shape);
                Assert.True(old.equal(now).all().item<bool>(), $"{key} changed by ResetClassifier");
            }
        }
        Assert.Equal(numClasses, model.NumClasses);
        Assert.Contains(model.named_modules(), m => m.name == model.ClassifierPath);
        checkFreshClassifier?.Invoke(model);

        using var _ = no_grad();
        var x = randn(1, 3, size, size);
        var logits = model.call(x);
        Assert.Equal([1L, numClasses], logits.shape);
        var preLogits = model.ForwardHead(model.ForwardFeatures(x), preLogits: true);
        Assert.Equal(model.NumFeatures, preLogits.shape[1]);
    }

    /// <summary>
    /// Runs <paramref name="model"/> on a <paramref name="size"/>² input and checks each FeatureInfo module's output: its
    /// channel count exactly, its spatial size against size / reduction (within 15 %, since unpadded convolutions and
    /// floor or ceil pooling make the stride nominal); <paramref name="exact"/> asks for size / reduction exactly.
    /// </summary>
    public static void FeatureInfoMatchesOutputs(Backbone model, int size, bool exact)
    {
        using var scope = NewDisposeScope();
        using var capture = FeatureCapture.Attach(model, model.FeatureInfo.Select(f => f.Module));
        model.eval();
        using (no_grad()) model.call(randn(1, 3, size, size));
        var shapes = capture.Outputs.ToDictionary(o => o.Key, o => o.Value.shape);

        long previous = 0;
        foreach (var f in model.FeatureInfo)
        {
            var shape = shapes[f.Module];
            Assert.Equal(f.Channels, shape[1]);
            Assert.True(f.Reduction > previous, $"{f.Module}: reductions must grow");
            previous = f.Reduction;
            double nominal = (double)size / f.Reduction;
            if (exact) Assert.Equal((long)nominal, shape[2]);
            else Assert.True(Math.Abs(shape[2] - nominal) <= 0.15 * nominal, $"{f.Module}: {shape[2]} px for stride {f.Reduction} of {size} px");
        }
    }
}
