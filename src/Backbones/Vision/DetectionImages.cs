using Backbones.Detection;
using Backbones.Training;
using Backbones.Weights;
using Colour = (byte R, byte G, byte B);

namespace Backbones.Vision;

/// <summary>
/// Pictures of detections over the original image: each box with its label and score, the keypoints as dots and the
/// skeleton's limbs between them (COCO's person skeleton by default), written as PNG.
/// </summary>
/// <remarks>
/// A box covers the pixels from <c>(int)x1</c> to <c>(int)x2</c> (and y alike), its outline drawn inward as torchvision's
/// <c>draw_bounding_boxes</c> (PIL's rectangle) does; its tag (label and score) sits above it, or inside when there is no
/// room. Limbs and dots are anti-aliased; left-side limbs and keypoints are drawn in <see cref="LeftColour"/>, right-side in
/// <see cref="RightColour"/>, the rest in <see cref="CentreColour"/>. The lowest-scoring detection is drawn first, so the
/// best one ends on top.
/// </remarks>
public static class DetectionImages
{
    public static readonly Colour LeftColour = (0, 191, 255), RightColour = (255, 69, 0), CentreColour = (255, 215, 0);
    static readonly Colour Black = (0, 0, 0), White = (255, 255, 255);

    /// <summary>
    /// The 19 limbs of COCO's person keypoints: the <c>skeleton</c> of the person category in COCO's
    /// person_keypoints_train2017/val2017.json annotations, 1-based indices into its 17 keypoints, named here by the
    /// catalogue's keypoint names (COCO's, in COCO's order).
    /// </summary>
    public static IReadOnlyList<(string From, string To)> CocoPersonSkeleton { get; } = Named(
    [
        (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8), (7, 9),
        (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
    ]);

    static IReadOnlyList<(string, string)> Named((int From, int To)[] oneBased)
    {
        var names = WeightsCatalogue.Find("keypointrcnn_resnet50_fpn", "COCO_V1")!.KeypointNames;
        return oneBased.Select(l => (names[l.From - 1], names[l.To - 1])).ToList();
    }

    /// <summary>The colour of a keypoint or limb by its name(s): left_*, right_*, or anything else.</summary>
    public static Colour SideColour(string from, string to) =>
        from.StartsWith("left_") && to.StartsWith("left_") ? LeftColour
        : from.StartsWith("right_") && to.StartsWith("right_") ? RightColour
        : CentreColour;

    /// <summary>The image with the detections drawn on it, height × width × RGB bytes (a 16-bit image shown with 8 bits).</summary>
    public static byte[] Draw(DecodedImage image, IReadOnlyList<DetectedObject> detections, DetectionDrawOptions? options = null)
    {
        options ??= new DetectionDrawOptions();
        var canvas = new ChartCanvas(image.Width, image.Height, image.Pixels8 ?? image.Pixels16!.Select(v => (byte)((v * 255 + 32767) / 65535)).ToArray());
        for (int i = detections.Count - 1; i >= 0; i--)
            DrawOne(canvas, detections[i], options.BoxColours[i % options.BoxColours.Count], options);
        return canvas.ToRgb();
    }

    /// <summary>Writes <see cref="Draw"/>'s picture as a PNG, atomically.</summary>
    public static void WritePng(string path, DecodedImage image, IReadOnlyList<DetectedObject> detections, DetectionDrawOptions? options = null) =>
        Heatmap.WritePng(path, Draw(image, detections, options), image.Width, image.Height);

    static void DrawOne(ChartCanvas canvas, DetectedObject d, Colour colour, DetectionDrawOptions options)
    {
        int x0 = Pixel(d.Box.X1, canvas.Width), y0 = Pixel(d.Box.Y1, canvas.Height);
        int x1 = Pixel(d.Box.X2, canvas.Width), y1 = Pixel(d.Box.Y2, canvas.Height);
        for (int k = 0; k < options.BoxWidth && x0 + k <= x1 - k && y0 + k <= y1 - k; k++)
            canvas.Frame(x0 + k, y0 + k, x1 - x0 + 1 - 2 * k, y1 - y0 + 1 - 2 * k, colour);

        var shown = d.Keypoints.Where(k => k.Score > options.KeypointThreshold).ToDictionary(k => k.Name);
        foreach (var (from, to) in options.Skeleton)
            if (shown.TryGetValue(from, out var a) && shown.TryGetValue(to, out var b))
                canvas.Stroke([(a.X, a.Y), (b.X, b.Y)], SideColour(from, to), options.LimbWidth);
        foreach (var k in shown.Values)
        {
            canvas.Dot(k.X, k.Y, options.KeypointRadius + 1.5, Black);
            canvas.Dot(k.X, k.Y, options.KeypointRadius, SideColour(k.Name, k.Name));
        }

        var font = BitmapFont.Bold;
        string text = $"{d.Label} {d.Score:F2}";
        int tagWidth = font.Measure(text) + 4, tagHeight = font.Height + 2;
        int tagX = Math.Clamp(x0, 0, Math.Max(0, canvas.Width - tagWidth)), tagY = y0 >= tagHeight ? y0 - tagHeight : y0;
        canvas.Fill(tagX, tagY, tagWidth, tagHeight, colour);
        canvas.Text(font, tagX + 2, tagY + 1, text, TextColour(colour));
    }

    /// <summary>Black on light colours, white on dark ones (Rec. 601 luma).</summary>
    public static Colour TextColour(Colour background) =>
        0.299 * background.R + 0.587 * background.G + 0.114 * background.B >= 140 ? Black : White;

    // The pixel a coordinate falls in, as torchvision's boxes.to(torch.int64) gives it, kept inside the image.
    static int Pixel(float v, int size) => Math.Clamp((int)Math.Floor(v), 0, size - 1);
}
