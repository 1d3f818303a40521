using System.Text.Json;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using static TorchSharp.torch;

namespace Backbones.Tests.Vision;

/// <summary>
/// What tests/reference/classify_parity.py gives: random torchvision weights for a model, and its logits and top-5 on
/// image files that torchvision decoded and preprocessed itself.
/// </summary>
public sealed record ClassifyReference(string Weights, float[][] Logits, (int Index, double Probability)[][] Top)
{
    public static ClassifyReference Make(string model, int resize, int crop, int numClasses, params string[] images)
    {
        PyTorch.Require();
        string folder = TempFolder.Create("classify");
        var (code, output, error) = PyTorch.RunScript("classify_parity.py",
            [folder, model, "--resize", resize.ToString(), "--crop", crop.ToString(), "--num-classes", numClasses.ToString(), .. images]);
        Assert.True(code == 0, output + error);
        using var saved = Checkpoint.Load(Path.Combine(folder, "logits.pth"));
        var logits = (Tensor)((PyDict)saved.Root!)["logits"]!;
        var rows = Enumerable.Range(0, (int)logits.shape[0]).Select(i => logits[i].data<float>().ToArray()).ToArray();
        using var top = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "top.json")));
        var tops = top.RootElement.EnumerateArray()
            .Select(image => image.EnumerateArray().Select(p => (p[0].GetInt32(), p[1].GetDouble())).ToArray()).ToArray();
        return new ClassifyReference(Path.Combine(folder, model + ".pth"), rows, tops);
    }

    /// <summary>‖a − b‖₂ / ‖b‖₂.</summary>
    public static double RelativeL2(float[] a, float[] b) =>
        Math.Sqrt(a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum()) / Math.Sqrt(b.Sum(y => (double)y * y));
}
