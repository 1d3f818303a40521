using Backbones.Detection;
using static TorchSharp.torch;

namespace Backbones.Tests.Detection;

/// <summary>BoxCoder against torchvision's BoxCoder (tests/reference/box_ops_reference.py), RPN and RoI-head weights.</summary>
public class BoxCoderTests
{
    [Fact]
    public void EncodesAndDecodesAsTorchvision()
    {
        var (cases, reference) = BoxOpsReference.Load("box_ops_reference.py", "box_ops");
        using var _ = reference;
        using var scope = NewDisposeScope();
        int count = 0;
        foreach (var op in new[] { "encode", "decode" })
            foreach (var (name, c, T) in BoxOpsTests.Cases(op, cases, reference))
            {
                var w = c.GetProperty("weights").EnumerateArray().Select(e => e.GetDouble()).ToArray();
                var coder = new BoxCoder((w[0], w[1], w[2], w[3]));
                if (op == "encode")
                {
                    var targets = coder.Encode([T("reference/0"), T("reference/1")], [T("proposals/0"), T("proposals/1")]);
                    Assert.Equal(2, targets.Length);
                    double worst = Enumerable.Range(0, 2).Max(i => BoxOpsReference.MaxAbsDiff(targets[i], T($"targets/{i}")));
                    TestContext.Current.TestOutputHelper?.WriteLine($"{name}: max |ours - torchvision| {worst:E2}");
                    Assert.True(worst <= 1e-6, $"{name}: {worst:G3}");
                }
                else
                {
                    var decoded = coder.Decode(T("rel_codes"), [T("boxes/0"), T("boxes/1")]);
                    Assert.Equal(T("decoded").shape, decoded.shape);
                    // Box coordinates up to a few hundred pixels (the clipped ones reach ~60 times their box): relative.
                    double worst = (decoded - T("decoded")).abs().div(T("decoded").abs().clamp_min(1)).max().item<float>();
                    TestContext.Current.TestOutputHelper?.WriteLine($"{name}: max relative difference {worst:E2}");
                    Assert.True(worst <= 1e-6, $"{name}: {worst:G3}");
                }
                count++;
            }
        Assert.Equal(4, count);
    }

    [Fact]
    public void DecodeInvertsEncodeAndClipsGrowth()
    {
        using var scope = NewDisposeScope();
        var coder = BoxCoder.RoiHeads();
        var anchors = tensor(new float[] { 10, 20, 50, 40, 0, 0, 8, 8 }).view(2, 4);
        var targets = tensor(new float[] { 12, 18, 60, 44, 1, 2, 5, 9 }).view(2, 4);
        var codes = coder.EncodeSingle(targets, anchors);
        Assert.True((coder.DecodeSingle(codes, anchors) - targets).abs().max().item<float>() < 1e-4);
        // A huge dw is clipped at log(1000 / 16): the width grows 62.5 times at most.
        var wide = coder.DecodeSingle(tensor(new float[] { 0, 0, 5 * 100, 0 }).view(1, 4), tensor(new float[] { 0, 0, 10, 10 }).view(1, 4));
        Assert.Equal(625f, (wide[0, 2] - wide[0, 0]).item<float>(), 3);
        Assert.Equal((1.0, 1.0, 1.0, 1.0), BoxCoder.Rpn().Weights);
        Assert.Equal(Math.Log(62.5), BoxCoder.DefaultXformClip, 12);
    }
}
