using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Backbones.Detection;
using Backbones.Vision;
using Backbones.Weights;

namespace Backbones.Cli;

/// <summary>
/// <c>backbones detect MODEL [--weights W] IMAGE... [--score 0.5] [--json] [-o DIR]</c>: boxes, scores and named keypoints
/// per image, as text or JSON (<see cref="DetectionJson"/>), and with <c>-o</c> a PNG per image with them drawn. Unreadable
/// images are reported and the others still detected (exit code 2 when any was unreadable).
/// </summary>
internal static class DetectCommand
{
    /// <param name="detectors">Builds the detector for a model and its weights (a catalogue name, a file, or null: the default set); null while none is built in.</param>
    public static Command Create(Func<string, string?, IDetector>? detectors)
    {
        var model = new Argument<string>("model") { Description = "Detector name (see backbones models keypoint*)" };
        var images = new Argument<string[]>("images") { Description = "Image files (JPEG, PNG, GIF, WebP, BMP)", Arity = ArgumentArity.OneOrMore };
        var weights = new Option<string?>("--weights") { Description = "Catalogue weights name (COCO_V1, DEFAULT) or a checkpoint file" };
        var score = new Option<float>("--score") { Description = "Keep detections scoring at least this (0 to 1)", DefaultValueFactory = _ => 0.5f };
        var keypointScore = new Option<float>("--keypoint-score") { Description = "Draw keypoints whose heatmap score is above this", DefaultValueFactory = _ => 2f };
        var json = new Option<bool>("--json") { Description = "Print one JSON document" };
        var folder = new Option<string?>("--output", "-o") { Description = "Folder for one PNG per image with the detections drawn" };
        var command = new Command("detect", "Boxes, scores and keypoints of images, as text, JSON or pictures") { model, images, weights, score, keypointScore, json, folder };
        command.SetAction(parsed =>
        {
            var output = parsed.InvocationConfiguration.Output;
            var error = parsed.InvocationConfiguration.Error;
            string name = parsed.GetValue(model)!;
            string? weightsName = parsed.GetValue(weights);
            float minScore = parsed.GetValue(score);
            CheckModel(name, weightsName);
            if (!(minScore >= 0 && minScore <= 1)) throw new CliUsageException($"--score must be between 0 and 1, got {minScore.ToString(CultureInfo.InvariantCulture)}");
            if (detectors is null)
                throw new NotSupportedException($"backbones detect is not yet available: no detector is built in yet ({name} is being assembled, issue 8)");

            using var detector = detectors(name, weightsName);
            var drawing = new DetectionDrawOptions { KeypointThreshold = parsed.GetValue(keypointScore) };
            string? pictures = parsed.GetValue(folder);
            if (pictures is not null) Directory.CreateDirectory(pictures);
            var usedNames = new HashSet<string>(StringComparer.Ordinal);
            using var document = new MemoryStream();
            using var writer = new Utf8JsonWriter(document, new JsonWriterOptions { Indented = true });
            writer.WriteStartArray();
            int failed = 0;
            foreach (var r in new ImageDetector(detector).Detect(ImageFile.Of(parsed.GetValue(images)!), minScore))
            {
                if (!r.Succeeded)
                {
                    failed++;
                    error.WriteLine($"error: {r.File.Path}: {r.Problem}");
                    DetectionJson.WriteFailure(writer, r.File.Name, r.Problem!);
                    continue;
                }
                string? picture = pictures is null ? null : PictureName(pictures, r.File.Path, usedNames);
                if (picture is not null) DetectionImages.WritePng(picture, r.Image!, r.Detections, drawing);
                if (parsed.GetValue(json)) DetectionJson.WriteImage(writer, r.File.Name, r.Detections);
                else WriteText(output, r, minScore, picture);
            }
            writer.WriteEndArray();
            writer.Flush();
            if (parsed.GetValue(json)) output.WriteLine(System.Text.Encoding.UTF8.GetString(document.ToArray()));
            return failed == 0 ? BackbonesCli.Success : BackbonesCli.BadInput;
        });
        return command;
    }

    static void CheckModel(string name, string? weights)
    {
        var known = WeightsCatalogue.Models(WeightsTask.KeypointDetection);
        if (!known.Contains(name)) throw new CliUsageException($"'{name}' is not a detector; the detectors are {string.Join(", ", known)}");
        if (weights is not null && WeightsCatalogue.Find(name, weights) is null && !File.Exists(weights))
            throw new CliUsageException($"'{weights}' is neither a weights set of {name} (DEFAULT, {string.Join(", ", WeightsCatalogue.For(name).Select(w => w.Name))}) nor an existing file");
    }

    /// <summary>FOLDER/STEM.png, or STEM-2.png, STEM-3.png ... when an earlier image had the same stem.</summary>
    static string PictureName(string folder, string image, HashSet<string> used)
    {
        string stem = Path.GetFileNameWithoutExtension(image), name = stem + ".png";
        for (int n = 2; !used.Add(name); n++) name = $"{stem}-{n}.png";
        return Path.Combine(folder, name);
    }

    static void WriteText(TextWriter output, DetectedImage r, float minScore, string? picture)
    {
        var c = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(c, $"{r.File.Name}: {r.Image!.Width}×{r.Image.Height}, {r.Detections.Count} detection{(r.Detections.Count == 1 ? "" : "s")} scoring at least {minScore:0.##}"));
        foreach (var d in r.Detections)
        {
            output.WriteLine(string.Create(c, $"  {d.Label} {d.Score:F3}  box {d.Box.X1:F1} {d.Box.Y1:F1} {d.Box.X2:F1} {d.Box.Y2:F1}"));
            foreach (var k in d.Keypoints) output.WriteLine(string.Create(c, $"    {k.Name,-15} {k.X,7:F1} {k.Y,7:F1}  score {k.Score:F2}"));
        }
        if (picture is not null) output.WriteLine($"  picture: {picture}");
    }
}
