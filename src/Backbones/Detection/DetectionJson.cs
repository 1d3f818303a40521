using System.Text;
using System.Text.Json;

namespace Backbones.Detection;

/// <summary>
/// Detections as JSON, one object per image: <c>{"image": path, "detections": [{"box": [x1, y1, x2, y2], "score": s,
/// "label": "person", "keypoints": [[x, y, score], ...]}]}</c>, or <c>{"image": path, "error": why}</c> for an unreadable one.
/// </summary>
/// <remarks>
/// Keypoints are in the detector's order (for Keypoint R-CNN the catalogue's <see cref="Weights.WeightsInfo.KeypointNames"/>,
/// which <c>backbones models --json</c> prints); the names are not repeated in every detection. Numbers are the model's
/// float32 values written in their shortest form that reads back to the same float32 (0.5, 12.25, 0.987654).
/// </remarks>
public static class DetectionJson
{
    public static void WriteImage(Utf8JsonWriter writer, string image, IReadOnlyList<DetectedObject> detections)
    {
        writer.WriteStartObject();
        writer.WriteString("image", image);
        writer.WriteStartArray("detections");
        foreach (var d in detections)
        {
            writer.WriteStartObject();
            writer.WriteStartArray("box");
            foreach (float v in new[] { d.Box.X1, d.Box.Y1, d.Box.X2, d.Box.Y2 }) writer.WriteNumberValue(v);
            writer.WriteEndArray();
            writer.WriteNumber("score", d.Score);
            writer.WriteString("label", d.Label);
            writer.WriteStartArray("keypoints");
            foreach (var k in d.Keypoints)
            {
                writer.WriteStartArray();
                writer.WriteNumberValue(k.X);
                writer.WriteNumberValue(k.Y);
                writer.WriteNumberValue(k.Score);
                writer.WriteEndArray();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    public static void WriteFailure(Utf8JsonWriter writer, string image, string problem)
    {
        writer.WriteStartObject();
        writer.WriteString("image", image);
        writer.WriteString("error", problem);
        writer.WriteEndObject();
    }

    /// <summary>One image's detections as a JSON document.</summary>
    public static string Serialize(string image, IReadOnlyList<DetectedObject> detections, bool indented = false) =>
        Write(writer => WriteImage(writer, image, detections), indented);

    static string Write(Action<Utf8JsonWriter> write, bool indented)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented }))
            write(writer);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
