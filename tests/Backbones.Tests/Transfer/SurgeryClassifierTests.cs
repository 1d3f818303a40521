using Backbones.Models;
using Backbones.Transfer;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Tests.Transfer;

/// <summary>
/// A new classifier for every registered model: right shape, every other tensor, key and module mode as before, and
/// initialised as the family's torchvision constructor initialises its classifier (read from torchvision 0.14's
/// models/*.py), checked against each scheme's distribution.
/// </summary>
public sealed class SurgeryClassifierTests
{
    const long Classes = 37;

    public static TheoryData<string> Models => new(ModelZoo.List());

    [Theory]
    [MemberData(nameof(Models))]
    public void ReplacesTheClassifierKeepingEverythingElse(string name)
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        using var model = ModelZoo.Create(name);
        string family = ModelZoo.All.Single(e => e.Name == name).Family;
        string path = model.ClassifierPath;
        var before = model.OrderedStateDict().Select(kv => (kv.Key, Print: Fingerprint(kv.Value))).ToList();

        // Mixed modes (a frozen-BatchNorm or MC-dropout recipe): every other leaf module in train mode, the rest in eval.
        model.eval();
        var leaves = model.named_modules().Where(m => !m.module.children().Any()).ToList();
        for (int i = 0; i < leaves.Count; i += 2) leaves[i].module.train();
        var modes = model.named_modules().ToDictionary(m => m.name, m => m.module.training);

        var report = Surgery.ReplaceClassifier(model, Classes);
        Assert.Equal(path, report.Path);
        Assert.Equal(1000, report.OldClasses);
        Assert.Equal(Classes, report.NewClasses);
        Assert.Equal(Classes, model.NumClasses);

        var after = model.OrderedStateDict().ToList();
        Assert.Equal(before.Select(b => b.Key), after.Select(a => a.Key));
        foreach (var ((key, old), (_, now)) in before.Zip(after))
        {
            if (key.StartsWith(path + ".", StringComparison.Ordinal)) continue;
            Assert.True(old == Fingerprint(now), $"{name}: {key} changed by the classifier replacement");
        }

        var modules = model.named_modules().ToDictionary(m => m.name, m => m.module);
        foreach (var (module, training) in modes)
        {
            if (module == path) continue;
            Assert.True(modules[module].training == training, $"{name}: {module} went from {(training ? "train" : "eval")} mode to the other");
        }
        string container = path.Contains('.') ? path[..path.LastIndexOf('.')] : "";
        bool containerMode = container.Length == 0 ? model.training : modules[container].training;
        Assert.True(modules[path].training == containerMode, $"{name}: the new {path} does not follow its container's mode");

        var head = modules[path];
        var (weight, bias) = head switch
        {
            Linear l => (l.weight!, l.bias!),
            Conv2d c => (c.weight, c.bias!),
            _ => throw new InvalidOperationException($"{name}: {path} is a {head.GetType().Name}"),
        };
        long[] expectedShape = head is Conv2d ? [Classes, model.NumFeatures, 1, 1] : [Classes, model.NumFeatures];
        Assert.Equal(expectedShape, weight.shape);
        Assert.Equal([Classes], bias.shape);
        CheckInitialisation(family, weight, bias, model.NumFeatures);
        Assert.Equal($"{path}: classifier for 1000 classes replaced by a freshly initialised one for {Classes} ({model.NumFeatures} features in, "
            + $"{weight.NumberOfElements + Classes:N0} parameters)", report.ToString());

        model.eval();
        using var _ = no_grad();
        Assert.Equal([1L, Classes], model.call(randn(1, 3, 64, 64)).shape);
    }

    /// <summary>
    /// The same tensor (native handle) with the same shape and the same sum: the one that was there, unchanged (a copy of
    /// 140 M VGG weights to compare would cost more than building the model).
    /// </summary>
    static (string Shape, IntPtr Data, double Sum) Fingerprint(Tensor t) =>
        (string.Join("×", t.shape), t.Handle, t.sum(ScalarType.Float64).item<double>());

    /// <summary>The classifier initialisation of each family's torchvision constructor.</summary>
    static void CheckInitialisation(string family, Tensor weight, Tensor bias, long fanIn)
    {
        double linearDefault = 1 / Math.Sqrt(fanIn); // nn.Linear's reset_parameters: kaiming_uniform_(a=√5) = U(±1/√fan_in)
        switch (family)
        {
            case "resnet" or "alexnet": // no classifier init in resnet.py / alexnet.py: nn.Linear's default, bias too
                AssertUniform(weight, linearDefault);
                Assert.InRange(bias.abs().max().item<float>(), 0.5 * linearDefault, linearDefault);
                break;
            case "densenet": // densenet.py: only nn.init.constant_(m.bias, 0)
                AssertUniform(weight, linearDefault);
                AssertZero(bias);
                break;
            case "vgg" or "mobilenetv2" or "mobilenetv3" or "squeezenet": // normal_(0, 0.01), bias 0 (squeezenet: the final 1×1 conv)
                AssertNormal(weight, 0.01);
                AssertZero(bias);
                break;
            case "efficientnet": // uniform_(±1/√out_features), bias 0
                AssertUniform(weight, 1 / Math.Sqrt(Classes));
                AssertZero(bias);
                break;
            case "convnext": // trunc_normal_(std=0.02) cut at ±2 (absolute: in effect a plain normal), bias 0
                AssertNormal(weight, 0.02);
                AssertZero(bias);
                break;
            default:
                Assert.Fail($"no expected classifier initialisation for family '{family}'");
                break;
        }
    }

    /// <summary>U(±bound): all within the bound, reaching it, std bound/√3 (over ≥ 18,000 samples, within 3 %).</summary>
    static void AssertUniform(Tensor w, double bound)
    {
        Assert.InRange(w.abs().max().item<float>(), 0.99 * bound, bound * (1 + 1e-6));
        Assert.InRange(w.std().item<float>(), 0.97 * bound / Math.Sqrt(3), 1.03 * bound / Math.Sqrt(3));
    }

    /// <summary>N(0, σ): std within 3 %, mean within 5 standard errors, and tails far beyond a uniform's √3·σ.</summary>
    static void AssertNormal(Tensor w, double sigma)
    {
        double std = w.std().item<float>();
        Assert.InRange(std, 0.97 * sigma, 1.03 * sigma);
        Assert.InRange(w.mean().item<float>(), -5 * sigma / Math.Sqrt(w.NumberOfElements), 5 * sigma / Math.Sqrt(w.NumberOfElements));
        Assert.True(w.abs().max().item<float>() > 3 * std, "the weights have no normal tails");
    }

    static void AssertZero(Tensor bias) => Assert.Equal(0f, bias.abs().max().item<float>());
}
