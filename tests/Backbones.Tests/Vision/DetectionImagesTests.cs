using Backbones.Detection;
using Backbones.Tests.Support;
using Backbones.Training;
using Backbones.Vision;
using Backbones.Weights;

namespace Backbones.Tests.Vision;

/// <summary>Detections drawn on a decoded PNG and read back: box outline, limbs, dots and tag where they belong, the rest untouched.</summary>
public class DetectionImagesTests
{
    const int Width = 200, Height = 160;
    static readonly (byte, byte, byte) BoxColour = (31, 119, 180);

    /// <summary>A 200×160 PNG of gradients and seeded noise, written and decoded again, and its pixels as written.</summary>
    static (DecodedImage Image, byte[] Pixels) Source()
    {
        var random = new Random(7);
        var rgb = new byte[Width * Height * 3];
        for (int y = 0; y < Height; y++)
            for (int x = 0; x < Width; x++)
            {
                int at = (y * Width + x) * 3;
                rgb[at] = (byte)Math.Clamp(x + random.Next(-20, 20), 0, 255);
                rgb[at + 1] = (byte)Math.Clamp(y + random.Next(-20, 20), 0, 255);
                rgb[at + 2] = (byte)Math.Clamp(128 + random.Next(-40, 40), 0, 255);
            }
        string path = Path.Combine(TempFolder.Create("draw"), "source.png");
        Heatmap.WritePng(path, rgb, Width, Height);
        return (ImageDecoder.Decode(path), rgb);
    }

    /// <summary>
    /// One person in the box (40.3, 50.7)–(150.6, 140.2): both shoulders and the left elbow shown, the right elbow under the
    /// keypoint threshold (score 1.5), every other keypoint at -1.
    /// </summary>
    static DetectedObject Person()
    {
        var scores = new Dictionary<string, (float X, float Y, float Score)>
        {
            ["left_shoulder"] = (70.5f, 80.5f, 9f), ["right_shoulder"] = (120.5f, 80.5f, 9f),
            ["left_elbow"] = (70.5f, 110.5f, 8f), ["right_elbow"] = (120.5f, 110.5f, 1.5f),
        };
        var names = WeightsCatalogue.Find("keypointrcnn_resnet50_fpn", "COCO_V1")!.KeypointNames;
        var keypoints = names.Select(n => scores.TryGetValue(n, out var k) ? new DetectedObjectKeypoint(n, k.X, k.Y, k.Score) : new DetectedObjectKeypoint(n, 100, 125, -1f));
        return new DetectedObject((40.3f, 50.7f, 150.6f, 140.2f), 0.97f, 1, "person", keypoints.ToList());
    }

    static (byte, byte, byte) At(byte[] rgb, int x, int y) => (rgb[(y * Width + x) * 3], rgb[(y * Width + x) * 3 + 1], rgb[(y * Width + x) * 3 + 2]);

    [Fact]
    public void DrawsTheBoxLimbsAndDotsAndLeavesTheRestOfTheImage()
    {
        var (source, written) = Source();
        Assert.Equal(written, source.Pixels8);
        string path = Path.Combine(TempFolder.Create("draw"), "drawn.png");
        DetectionImages.WritePng(path, source, [Person()]);
        var drawn = ImageDecoder.Decode(path).Pixels8!;

        // The outline is 2 pixels wide, inward from pixels 40..150 × 50..140.
        for (int y = 50; y <= 140; y++)
            foreach (int x in new[] { 40, 41, 149, 150 }) Assert.Equal(BoxColour, At(drawn, x, y));
        for (int x = 40; x <= 150; x++)
            foreach (int y in new[] { 50, 51, 139, 140 }) Assert.Equal(BoxColour, At(drawn, x, y));

        // Limb midpoints: left shoulder to left elbow (left), shoulder to shoulder (centre); the right elbow is hidden, so no limb to it.
        Assert.Equal(DetectionImages.LeftColour, At(drawn, 70, 95));
        Assert.Equal(DetectionImages.CentreColour, At(drawn, 95, 80));
        Assert.Equal(At(written, 120, 95), At(drawn, 120, 95));
        Assert.Equal(At(written, 120, 110), At(drawn, 120, 110));
        // Dot centres in their side's colour, in a black ring (4 pixels out: pure black).
        Assert.Equal(DetectionImages.RightColour, At(drawn, 120, 80));
        Assert.Equal(DetectionImages.LeftColour, At(drawn, 70, 110));
        Assert.Equal((0, 0, 0), At(drawn, 70, 114));

        // The tag "person 0.97" sits on the 15 rows above the box: white bold glyphs on the box colour.
        const string tag = "person 0.97";
        int tagWidth = BitmapFont.Bold.Measure(tag) + 4;
        var tagPixels = (from y in Enumerable.Range(35, 15) from x in Enumerable.Range(40, tagWidth) select At(drawn, x, y)).ToList();
        int ink = (from c in tag from gy in Enumerable.Range(0, 13) from gx in Enumerable.Range(0, 7) where BitmapFont.Bold.Ink(c, gx, gy) select 1).Count();
        Assert.Equal(ink, tagPixels.Count(p => p == (255, 255, 255)));
        Assert.Equal(tagPixels.Count - ink, tagPixels.Count(p => p == BoxColour));

        // Everything outside the box and its tag, and inside the box away from the shoulders and elbows, is the source.
        int changed = 0;
        for (int y = 0; y < Height; y++)
            for (int x = 0; x < Width; x++)
            {
                bool boxOrTag = x >= 40 && x <= 150 && y >= 35 && y <= 140;
                bool frame = !(x >= 42 && x <= 148 && y >= 52 && y <= 138);
                bool skeleton = x >= 60 && x <= 131 && y >= 70 && y <= 121;
                if (At(drawn, x, y) != At(written, x, y))
                {
                    changed++;
                    Assert.True(boxOrTag && (frame || skeleton), $"pixel ({x}, {y}) changed");
                }
            }
        Assert.InRange(changed, 400 + 2 * 91 * 2 + 2 * 107 * 2, Width * Height);
    }

    [Fact]
    public void CocoSkeletonHasTheNineteenLimbsOfTheAnnotations()
    {
        var limbs = DetectionImages.CocoPersonSkeleton;
        Assert.Equal(19, limbs.Count);
        Assert.Equal(("left_ankle", "left_knee"), limbs[0]);
        Assert.Equal(("left_hip", "right_hip"), limbs[4]);
        Assert.Equal(("left_shoulder", "right_shoulder"), limbs[7]);
        Assert.Equal(("right_elbow", "right_wrist"), limbs[11]);
        Assert.Equal(("right_ear", "right_shoulder"), limbs[18]);
        Assert.Equal(DetectionImages.CentreColour, DetectionImages.SideColour("nose", "left_eye"));
    }

    [Fact]
    public void BestDetectionIsDrawnLastInTheFirstColour()
    {
        var (source, _) = Source();
        var weak = new DetectedObject((10f, 20f, 100f, 100f), 0.6f, 1, "person", []);
        var strong = new DetectedObject((50f, 30f, 180f, 150f), 0.9f, 1, "person", []);
        var drawn = DetectionImages.Draw(source, [strong, weak]);
        Assert.Equal(BoxColour, At(drawn, 50, 90));       // the strong box's left edge crosses the weak box's inside
        Assert.Equal(BoxColour, At(drawn, 75, 30));       // and its top edge runs over the weak box's right edge at (100, 30)
        Assert.Equal(BoxColour, At(drawn, 100, 30));
        Assert.Equal((255, 127, 14), At(drawn, 100, 60)); // the weak box's right edge, below the strong box's top
    }
}
