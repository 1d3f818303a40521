using Backbones.Models;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Tests.Support;

/// <summary>
/// One architecture against torchvision: the same random weights (written by PyTorch, read by our reader), the
/// same input; eval logits and each named stage's output within relative L2 1e-5, and BatchNorm running
/// statistics after one train-mode forward.
/// </summary>
public static class ModelParity
{
    public const double Tolerance = 1e-5;

    /// <summary>
    /// In train mode every BatchNorm normalises with its batch's statistics, and over a hundred such layers the
    /// 1e-8 rounding differences between libtorch versions' kernels grow to 1e-4 (measured: ResNet-152's layer1
    /// agrees to 1e-8, its layer4 to 1e-4). The update rule itself is checked tightly on the first BatchNorm,
    /// whose input is identical: a wrong momentum or a biased variance shows there at 1e-5 or more.
    /// </summary>
    public const double TrainTolerance = 1e-3;

    /// <param name="trainSize">Input size of the train-mode forward; batch statistics need enough values to be stable.</param>
    public static void Check(string model, int size, string[] features, int batch = 2, ModelOptions? options = null, string kwargsJson = "{}",
        string? name = null, int trainSize = 128)
    {
        PyTorch.Require();
        string folder = TempFolder.Create("parity");
        name ??= model;
        var (code, output, error) = PyTorch.RunScript("model_parity.py", folder, model, "--size", size.ToString(), "--batch", batch.ToString(),
            "--features", string.Join(",", features), "--kwargs", kwargsJson, "--name", name,
            "--train-size", Math.Max(size, trainSize).ToString(), "--train-batch", "2");
        Assert.True(code == 0, output + error);

        using var scope = NewDisposeScope();
        using var net = ModelZoo.Create(model, options);
        using var weights = StateDict.Load(Path.Combine(folder, name + ".weights.pth"));
        using var io = Checkpoint.Load(Path.Combine(folder, name + ".io.pth"));
        var root = (PyDict)io.Root!;

        var expectedKeys = ((List<object?>)root["keys"]!).Cast<List<object?>>()
            .Select(k => $"{k[0]} {k[1]} [{string.Join(", ", ((List<object?>)k[2]!).Cast<long>())}]").ToList();
        var ourKeys = net.OrderedStateDict().Select(kv => $"{kv.Key} {TorchDType.Of(kv.Value.dtype).Name} [{string.Join(", ", kv.Value.shape)}]").ToList();
        Assert.Equal(expectedKeys, ourKeys);

        net.LoadStateDict(weights, strict: true);
        net.eval();
        var modules = net.named_modules().ToDictionary(m => m.name, m => m.module);
        var captured = new Dictionary<string, Tensor>();
        var hooks = features.Select(path => ((nn.Module<Tensor, Tensor>)modules[path]).register_forward_hook((_, _, y) =>
        {
            captured[path] = y.detach().clone().DetachFromDisposeScope();
            return null;
        })).ToList();
        var input = (Tensor)root["input"]!;
        using (no_grad())
        {
            var logits = net.call(input);
            AssertClose($"{name} logits", (Tensor)root["logits"]!, logits);
        }
        foreach (var h in hooks) h.remove();
        var expectedFeatures = (PyDict)root["features"]!;
        foreach (var path in features)
        {
            using var ours = captured[path];
            AssertClose($"{name} {path}", (Tensor)expectedFeatures[path]!, ours);
        }

        net.train();
        using (no_grad()) net.call((Tensor)root["train_input"]!);
        var state = net.state_dict();
        var trainStats = (PyDict)root["train_bn"]!;
        // Models without BatchNorm (vgg11, alexnet, squeezenet) have no running statistics: the key comparison above
        // already showed ours has none either.
        if (trainStats.Count == 0) return;
        string firstNorm = ((string)trainStats.Keys.First())[..^".running_mean".Length];
        foreach (var (key, expected) in trainStats)
            AssertClose($"{name} train-mode {key}", (Tensor)expected!, state[(string)key],
                ((string)key).StartsWith(firstNorm + ".", StringComparison.Ordinal) ? 1e-6 : TrainTolerance);
    }

    public static void AssertClose(string what, Tensor expected, Tensor actual, double tolerance = Tolerance)
    {
        Assert.Equal(expected.shape, actual.shape);
        using var e = expected.to_type(ScalarType.Float64);
        using var a = actual.to_type(ScalarType.Float64);
        double norm = e.norm().item<double>();
        double diff = (a - e).norm().item<double>();
        double maxAbs = e.NumberOfElements == 0 ? 0 : (a - e).abs().max().item<double>();
        double relative = norm == 0 ? diff : diff / norm;
        TestContext.Current.TestOutputHelper?.WriteLine($"{what}: relative L2 {relative:E2}, max |a-b| {maxAbs:E2}");
        Assert.True(relative <= tolerance, $"{what}: relative L2 error {relative:E3} > {tolerance:E0} (max |a-b| {maxAbs:E3})");
    }
}
