using System.Text.Json;
using Backbones.Detection;
using Backbones.Weights;
using static TorchSharp.torch;

namespace Backbones.Tests.Detection;

/// <summary>torchvision-style result dictionaries to detections (threshold, names, keypoint scores) and their exact JSON.</summary>
public class DetectedObjectTests
{
    static readonly string[] Categories = ["no person", "person"];

    /// <summary>Three detections by falling score, two keypoints each: x, y, visibility 1, and heatmap scores.</summary>
    static Dictionary<string, Tensor> Result() => new()
    {
        ["boxes"] = tensor(new[] { 10.5f, 20.25f, 110f, 220.75f, 0.1f, 1f, 30f, 40f, 5f, 6f, 7f, 8f }).view(3, 4),
        ["labels"] = tensor(new long[] { 1, 1, 1 }),
        ["scores"] = tensor(new[] { 0.987f, 0.5f, 0.49f }),
        ["keypoints"] = tensor(new[] { 50f, 60f, 1f, 70.125f, 80f, 1f, 2f, 3f, 1f, 4f, 5f, 1f, 6f, 6f, 1f, 7f, 7f, 1f }).view(3, 2, 3),
        ["keypoints_scores"] = tensor(new[] { 12.5f, -1.75f, 3f, 0.1f, 9f, 9f }).view(3, 2),
    };

    [Fact]
    public void KeepsDetectionsAtOrAboveTheScoreWithNamedKeypoints()
    {
        using var scope = NewDisposeScope();
        var detections = DetectedObject.From(Result(), Categories, ["nose", "left_eye"], 0.5f);
        Assert.Equal(2, detections.Count);
        var first = detections[0];
        Assert.Equal((10.5f, 20.25f, 110f, 220.75f), first.Box);
        Assert.Equal((0.987f, 1, "person"), (first.Score, first.LabelIndex, first.Label));
        Assert.Equal([new DetectedObjectKeypoint("nose", 50f, 60f, 12.5f), new DetectedObjectKeypoint("left_eye", 70.125f, 80f, -1.75f)], first.Keypoints);
        Assert.Equal((0.1f, 1f, 30f, 40f), detections[1].Box);
        Assert.Equal(3f, detections[1].Keypoints[0].Score);
        Assert.Equal(3, DetectedObject.From(Result(), Categories, ["nose", "left_eye"]).Count);
    }

    [Fact]
    public void JsonIsTheDocumentedShapeWithShortestRoundTripNumbers()
    {
        using var scope = NewDisposeScope();
        var detections = DetectedObject.From(Result(), Categories, ["nose", "left_eye"], 0.5f);
        string json = DetectionJson.Serialize("images/a b.jpg", detections);
        Assert.Equal("""{"image":"images/a b.jpg","detections":[""" +
            """{"box":[10.5,20.25,110,220.75],"score":0.987,"label":"person","keypoints":[[50,60,12.5],[70.125,80,-1.75]]},""" +
            """{"box":[0.1,1,30,40],"score":0.5,"label":"person","keypoints":[[2,3,3],[4,5,0.1]]}]}""", json);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(0.987f, doc.RootElement.GetProperty("detections")[0].GetProperty("score").GetSingle());
        Assert.Equal(0.1f, doc.RootElement.GetProperty("detections")[1].GetProperty("box")[0].GetSingle());
    }

    [Fact]
    public void NoDetectionsGiveAnEmptyList()
    {
        using var scope = NewDisposeScope();
        var names = WeightsCatalogue.Find("keypointrcnn_resnet50_fpn", "COCO_V1")!.KeypointNames;
        var empty = new Dictionary<string, Tensor>
        {
            ["boxes"] = zeros(0, 4), ["labels"] = zeros(0, ScalarType.Int64), ["scores"] = zeros(0),
            ["keypoints"] = zeros(0, 17, 3), ["keypoints_scores"] = zeros(0, 17),
        };
        Assert.Empty(DetectedObject.From(empty, Categories, names));
        Assert.Equal("""{"image":"x.png","detections":[]}""", DetectionJson.Serialize("x.png", []));
    }

    [Fact]
    public void RefusesResultsThatDoNotFitTheNames()
    {
        using var scope = NewDisposeScope();
        var tooFewNames = Assert.Throws<ArgumentException>(() => DetectedObject.From(Result(), Categories, ["nose"]));
        Assert.StartsWith("result entry 'keypoints' must be [3, 1, 3] for 3 boxes and the 1 keypoint names, got [3, 2, 3]", tooFewNames.Message);
        var noScores = Result();
        noScores.Remove("scores");
        Assert.StartsWith("the detector's result has no 'scores' entry (it has boxes, labels, keypoints, keypoints_scores)",
            Assert.Throws<ArgumentException>(() => DetectedObject.From(noScores, Categories, ["nose", "left_eye"])).Message);
        var badLabel = Result();
        badLabel["labels"] = tensor(new long[] { 1, 2, 1 });
        Assert.StartsWith("result entry 'labels' has label 2 outside the 2 categories",
            Assert.Throws<ArgumentException>(() => DetectedObject.From(badLabel, Categories, ["nose", "left_eye"])).Message);
        var flatBoxes = Result();
        flatBoxes["boxes"] = zeros(12);
        Assert.StartsWith("result entry 'boxes' must be floating point [N, 4], got Float32 [12]",
            Assert.Throws<ArgumentException>(() => DetectedObject.From(flatBoxes, Categories, ["nose", "left_eye"])).Message);
    }
}
