using System.CommandLine;
using System.IO.Enumeration;
using System.Text.Json;
using Backbones.Models;
using Backbones.Weights;

namespace Backbones.Cli;

/// <summary>
/// <c>backbones models [--json]</c>: the architectures of the zoo with their official weights sets, then the detectors
/// of the catalogue (keypointrcnn_resnet50_fpn) with theirs.
/// </summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print one JSON document" };
        var pattern = new Argument<string>("pattern") { Description = "Glob over model names (resnet*)", DefaultValueFactory = _ => "*" };
        var command = new Command("models", "List the architectures and their official weights") { pattern, json };
        command.SetAction(parsed =>
        {
            var output = parsed.InvocationConfiguration.Output;
            string glob = parsed.GetValue(pattern)!;
            var entries = ModelZoo.List(glob).Select(n => ModelZoo.All.Single(e => e.Name == n)).ToList();
            var detectors = WeightsCatalogue.Models(WeightsTask.KeypointDetection)
                .Where(m => FileSystemName.MatchesSimpleExpression(glob, m, ignoreCase: false)).ToList();
            if (parsed.GetValue(json)) WriteJson(output, entries, detectors);
            else
            {
                foreach (var e in entries) output.WriteLine(Line(e.Name, e.Family));
                foreach (var d in detectors) output.WriteLine(Line(d, KeypointFamily));
            }
            return BackbonesCli.Success;
        });
        return command;
    }

    const string KeypointFamily = "keypoint_rcnn";

    static string Line(string model, string family)
    {
        var weights = WeightsCatalogue.For(model);
        string parameters = weights.Count > 0 ? $"{weights[0].NumParams / 1e6:F1}M params" : "";
        return $"{model,-20} {family,-14} {parameters,-14} {string.Join("  ", weights.Select(Describe))}";
    }

    static string Describe(WeightsInfo w) => $"{w.Name}{(w.IsDefault ? " (default)" : "")}{(w.Acc1 is { } a ? $" top-1 {a:F2}%" : "")}" +
        $"{(w.BoxMap is { } box ? $" box mAP {box:F1}" : "")}{(w.KeypointMap is { } kp ? $" keypoint mAP {kp:F1}" : "")}";

    // Classification models keep the shape they always had; a detector says its task and gives mAPs, classes and keypoint names instead.
    static void WriteJson(TextWriter output, IEnumerable<ModelZoo.Entry> entries, IEnumerable<string> detectors)
    {
        var classification = entries.Select(e =>
        {
            var weights = WeightsCatalogue.For(e.Name);
            return (object)new
            {
                name = e.Name,
                family = e.Family,
                @params = weights.FirstOrDefault()?.NumParams,
                weights = weights.Select(w => new
                {
                    name = w.Name, url = w.Url, sha256_prefix = w.Sha256Prefix, acc1 = w.Acc1, acc5 = w.Acc5,
                    resize = w.Transforms!.ResizeSize, crop = w.Transforms.CropSize, mean = w.Transforms.Mean, std = w.Transforms.Std,
                }),
            };
        });
        var detection = detectors.Select(d =>
        {
            var weights = WeightsCatalogue.For(d);
            return (object)new
            {
                name = d,
                family = KeypointFamily,
                task = "keypoint_detection",
                @params = weights.FirstOrDefault()?.NumParams,
                weights = weights.Select(w => new
                {
                    name = w.Name, url = w.Url, sha256_prefix = w.Sha256Prefix, box_map = w.BoxMap, kp_map = w.KeypointMap,
                    categories = w.Categories, keypoint_names = w.KeypointNames,
                }),
            };
        });
        output.WriteLine(JsonSerializer.Serialize(classification.Concat(detection), new JsonSerializerOptions { WriteIndented = true }));
    }
}
