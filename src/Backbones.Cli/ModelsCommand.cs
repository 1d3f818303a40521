using System.CommandLine;
using System.Text.Json;
using Backbones.Models;
using Backbones.Weights;

namespace Backbones.Cli;

/// <summary><c>backbones models [--json]</c>: the architectures of the zoo with their official weights sets.</summary>
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
            var entries = ModelZoo.List(parsed.GetValue(pattern)!).Select(n => ModelZoo.All.Single(e => e.Name == n)).ToList();
            if (parsed.GetValue(json)) WriteJson(output, entries);
            else
                foreach (var e in entries)
                {
                    var weights = WeightsCatalogue.For(e.Name);
                    string parameters = weights.Count > 0 ? $"{weights[0].NumParams / 1e6:F1}M params" : "";
                    output.WriteLine($"{e.Name,-20} {e.Family,-14} {parameters,-14} {string.Join("  ", weights.Select(Describe))}");
                }
            return BackbonesCli.Success;
        });
        return command;
    }

    static string Describe(WeightsInfo w) => $"{w.Name}{(w.IsDefault ? " (default)" : "")}{(w.Acc1 is { } a ? $" top-1 {a:F2}%" : "")}";

    static void WriteJson(TextWriter output, IEnumerable<ModelZoo.Entry> entries)
    {
        var document = entries.Select(e =>
        {
            var weights = WeightsCatalogue.For(e.Name);
            return new
            {
                name = e.Name,
                family = e.Family,
                @params = weights.FirstOrDefault()?.NumParams,
                weights = weights.Select(w => new
                {
                    name = w.Name, url = w.Url, sha256_prefix = w.Sha256Prefix, acc1 = w.Acc1, acc5 = w.Acc5,
                    resize = w.Transforms.ResizeSize, crop = w.Transforms.CropSize, mean = w.Transforms.Mean, std = w.Transforms.Std,
                }),
            };
        });
        output.WriteLine(JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true }));
    }
}
