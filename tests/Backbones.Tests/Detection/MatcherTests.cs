using Backbones.Detection;
using static TorchSharp.torch;

namespace Backbones.Tests.Detection;

/// <summary>Matcher against torchvision's Matcher (tests/reference/box_ops_reference.py), RPN and RoI-head settings.</summary>
public class MatcherTests
{
    [Fact]
    public void MatchesAsTorchvision()
    {
        var (cases, reference) = BoxOpsReference.Load("box_ops_reference.py", "box_ops");
        using var _ = reference;
        using var scope = NewDisposeScope();
        int count = 0;
        foreach (var (name, c, T) in BoxOpsTests.Cases("match", cases, reference))
        {
            var matcher = new Matcher(c.GetProperty("high").GetDouble(), c.GetProperty("low").GetDouble(), c.GetProperty("allow_low_quality").GetBoolean());
            BoxOpsReference.AssertIdentical(T("matches"), matcher.Match(T("quality")), name);
            count++;
        }
        Assert.Equal(6, count);
    }

    [Fact]
    public void LowQualityMatchesGiveEachGroundTruthItsBestPredictions()
    {
        using var scope = NewDisposeScope();
        // Ground truth 1 overlaps predictions 1 and 2 at most 0.2 (a tie): both keep their own best match, 1.
        var quality = tensor(new float[] { 0.9f, 0.1f, 0.0f, 0.4f, 0.0f, 0.2f, 0.2f, 0.1f }).view(2, 4);
        Assert.Equal(new long[] { 0, -1, -1, -2 }, new Matcher(0.7, 0.3).Match(quality).data<long>().ToArray());
        Assert.Equal(new long[] { 0, 1, 1, -2 }, new Matcher(0.7, 0.3, allowLowQualityMatches: true).Match(quality).data<long>().ToArray());
    }

    [Fact]
    public void RefusesEmptyMatricesAndCrossedThresholds()
    {
        using var scope = NewDisposeScope();
        var matcher = new Matcher(0.7, 0.3);
        Assert.Contains("no ground-truth boxes", Assert.Throws<ArgumentException>(() => matcher.Match(zeros(0, 5))).Message);
        Assert.Contains("no proposal boxes", Assert.Throws<ArgumentException>(() => matcher.Match(zeros(2, 0))).Message);
        Assert.Contains("low threshold 0.8 is above high threshold 0.7", Assert.Throws<ArgumentException>(() => new Matcher(0.7, 0.8)).Message);
    }
}
