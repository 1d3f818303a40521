using System.Text.Json;

namespace Backbones.Tests.Support;

/// <summary>Facts from torchvision's own metadata in ../shared/data (not produced by our code).</summary>
public static class SharedData
{
    public static string Folder
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "shared", "data");
                if (Directory.Exists(candidate)) return candidate;
            }
            throw new DirectoryNotFoundException("shared/data not found beside the repository");
        }
    }

    /// <summary>The parameter count torchvision records for a weights set, e.g. ("ResNet18_Weights", "IMAGENET1K_V1").</summary>
    public static long NumParams(string weightsEnum, string weights)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "torchvision_weights.json")));
        foreach (var family in doc.RootElement.GetProperty("classification").EnumerateArray())
            if (family.GetProperty("weights_enum").GetString() == weightsEnum)
                foreach (var w in family.GetProperty("weights").EnumerateArray())
                    if (w.GetProperty("name").GetString() == weights) return w.GetProperty("num_params").GetInt64();
        throw new KeyNotFoundException($"{weightsEnum}.{weights} not in torchvision_weights.json");
    }
}
