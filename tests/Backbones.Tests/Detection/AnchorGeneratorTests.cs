using Backbones.Detection;
using static TorchSharp.torch;

namespace Backbones.Tests.Detection;

/// <summary>AnchorGenerator against torchvision's (tests/reference/anchors_reference.py): base anchors and anchors per image.</summary>
public class AnchorGeneratorTests
{
    [Fact]
    public void GeneratesTorchvisionsAnchors()
    {
        var (cases, reference) = BoxOpsReference.Load("anchors_reference.py", "anchors");
        using var _ = reference;
        int count = 0;
        foreach (var c in cases)
        {
            using var scope = NewDisposeScope();
            string name = c.GetProperty("name").GetString()!;
            Tensor T(string key) => BoxOpsReference.Get(reference, $"{name}/{key}");
            var sizes = c.GetProperty("sizes").EnumerateArray().Select(l => (IReadOnlyList<int>)l.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray();
            var ratios = c.GetProperty("aspect_ratios").EnumerateArray().Select(l => (IReadOnlyList<double>)l.EnumerateArray().Select(e => e.GetDouble()).ToArray()).ToArray();
            var batch = c.GetProperty("batch").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var dtype = c.GetProperty("dtype").GetString() == "float64" ? ScalarType.Float64 : ScalarType.Float32;
            var maps = c.GetProperty("feature_sizes").EnumerateArray().Select(s => zeros([batch[0], 1, s[0].GetInt64(), s[1].GetInt64()], dtype)).ToList();
            using var generator = new AnchorGenerator(sizes, ratios);
            for (int level = 0; level < sizes.Length; level++)
                BoxOpsReference.AssertIdentical(T($"cell/{level}"), generator.CellAnchors[level], $"{name} base anchors of level {level}");
            var anchors = generator.call(zeros(batch), maps);
            Assert.Equal(batch[0], anchors.Count);
            for (int i = 0; i < anchors.Count; i++)
                BoxOpsReference.AssertIdentical(T($"anchors/{i}"), anchors[i], $"{name} anchors of image {i}");
            count++;
        }
        Assert.Equal(5, count);
    }

    [Fact]
    public void FpnAnchorsAreRoundedAndCentredOnCellCorners()
    {
        using var scope = NewDisposeScope();
        using var generator = AnchorGenerator.ForFpn();
        Assert.Equal([3, 3, 3, 3, 3], generator.NumAnchorsPerLocation());
        // Size 32, ratio 0.5 (h/w): w = 32/√0.5 = 45.25, h = 22.63, halves 22.63 and 11.31, rounded.
        Assert.Equal(new float[] { -23, -11, 23, 11, -16, -16, 16, 16, -11, -23, 11, 23 }, generator.CellAnchors[0].data<float>().ToArray());
        var maps = new[] { 16L, 8, 4, 2, 1 }.Select(s => zeros(1, 1, s, s)).ToList();
        var anchors = generator.call(zeros(1, 3, 64, 64), maps)[0];
        Assert.Equal(3 * (256 + 64 + 16 + 4 + 1), anchors.shape[0]);
        // The first level's second cell is 4 pixels to the right (stride 64 / 16).
        Assert.Equal(new float[] { -12, -16, 20, 16 }, anchors[4].data<float>().ToArray());
        Assert.Contains("3 feature maps but anchors for 5 levels",
            Assert.Throws<ArgumentException>(() => generator.call(zeros(1, 3, 64, 64), maps.Take(3).ToList())).Message);
    }
}
