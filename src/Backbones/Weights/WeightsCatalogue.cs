using System.Text.Json;

namespace Backbones.Weights;

/// <summary>
/// The official torchvision weights, from the metadata embedded in the library: classification and keypoint detection
/// (<c>keypointrcnn_resnet50_fpn</c>), looked up by model and by torchvision's names (<c>IMAGENET1K_V2</c>, <c>DEFAULT</c>,
/// <c>ResNet50_Weights.IMAGENET1K_V2</c>, <c>COCO_V1</c>).
/// </summary>
public static class WeightsCatalogue
{
    static readonly Lazy<IReadOnlyList<WeightsInfo>> Entries = new(Read);
    static readonly Lazy<IReadOnlyList<string>> ImageNet = new(() => ReadResource("Backbones.imagenet_categories.txt")
        .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList());

    public static IReadOnlyList<WeightsInfo> All => Entries.Value;

    /// <summary>The models with weights for <paramref name="task"/>, in the metadata's order.</summary>
    public static IReadOnlyList<string> Models(WeightsTask task) => All.Where(w => w.Task == task).Select(w => w.Model).Distinct().ToList();

    /// <summary>The 1000 ImageNet class names in torchvision's order.</summary>
    public static IReadOnlyList<string> ImageNetCategories => ImageNet.Value;

    /// <summary>Every weights set of <paramref name="model"/>, the default first.</summary>
    public static IReadOnlyList<WeightsInfo> For(string model) =>
        All.Where(w => w.Model == model).OrderByDescending(w => w.IsDefault).ToList();

    /// <summary>
    /// The weights set <paramref name="name"/> of <paramref name="model"/>; null when there is none by that name.
    /// <c>DEFAULT</c> is the one torchvision marks as default.
    /// </summary>
    public static WeightsInfo? Find(string model, string name)
    {
        var candidates = For(model);
        if (name.Equals("DEFAULT", StringComparison.OrdinalIgnoreCase)) return candidates.FirstOrDefault(w => w.IsDefault);
        return candidates.FirstOrDefault(w => w.Name == name || w.FullName == name);
    }

    static IReadOnlyList<WeightsInfo> Read()
    {
        using var doc = JsonDocument.Parse(ReadResource("Backbones.torchvision_weights.json"));
        var list = new List<WeightsInfo>();
        foreach (var family in doc.RootElement.GetProperty("classification").EnumerateArray())
            foreach (var w in family.GetProperty("weights").EnumerateArray())
            {
                var t = w.GetProperty("transforms");
                var categoriesJson = w.GetProperty("categories");
                IReadOnlyList<string> categories = categoriesJson.ValueKind switch
                {
                    JsonValueKind.String when categoriesJson.GetString() == "imagenet_categories.txt" => ImageNetCategories,
                    JsonValueKind.Array => Strings(categoriesJson),
                    _ => [], // feature-extraction weights (vgg16 IMAGENET1K_FEATURES) have no classes
                };
                list.Add(Common(family, w, Number(w, "acc1"), Number(w, "acc5"), (int?)Number(w, "num_classes"),
                    new Preprocessing(t.GetProperty("resize_size").GetInt32(), t.GetProperty("crop_size").GetInt32(),
                        t.GetProperty("interpolation").GetString()!,
                        t.GetProperty("mean").EnumerateArray().Select(v => v.GetDouble()).ToList(),
                        t.GetProperty("std").EnumerateArray().Select(v => v.GetDouble()).ToList()),
                    categories));
            }
        foreach (var family in doc.RootElement.GetProperty("keypoint_detection").EnumerateArray())
            foreach (var w in family.GetProperty("weights").EnumerateArray())
            {
                var categories = Strings(w.GetProperty("categories"));
                list.Add(Common(family, w, null, null, categories.Count, null, categories) with
                {
                    Task = WeightsTask.KeypointDetection,
                    KeypointNames = Strings(w.GetProperty("keypoint_names")),
                    BoxMap = Number(w, "box_map"),
                    KeypointMap = Number(w, "kp_map"),
                });
            }
        return list;
    }

    static WeightsInfo Common(JsonElement family, JsonElement w, double? acc1, double? acc5, int? numClasses, Preprocessing? transforms,
        IReadOnlyList<string> categories) =>
        new(family.GetProperty("builder").GetString()!, family.GetProperty("weights_enum").GetString()!, w.GetProperty("name").GetString()!,
            w.GetProperty("default").GetBoolean(), w.GetProperty("url").GetString()!, w.GetProperty("file_name").GetString()!,
            w.GetProperty("sha256_prefix").GetString()!, w.GetProperty("num_params").GetInt64(), acc1, acc5, numClasses, transforms, categories);

    static List<string> Strings(JsonElement array) => array.EnumerateArray().Select(c => c.GetString()!).ToList();

    static double? Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    static string ReadResource(string name)
    {
        using var stream = typeof(WeightsCatalogue).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"embedded resource {name} missing from the build");
        return new StreamReader(stream).ReadToEnd();
    }
}
