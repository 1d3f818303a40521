using System.Text.Json;

namespace Backbones.Tests.Support;

/// <summary>The exact state-dict keys, shapes, dtypes and parameter counts torchvision's models have (../shared/data).</summary>
public static class StateDictContract
{
    public sealed record Key(string Name, long[] Shape, string DType, bool IsParameter);

    public sealed record Model(long NumParams, IReadOnlyList<Key> Keys);

    static readonly Lazy<Dictionary<string, Model>> All = new(Read);

    public static IReadOnlyCollection<string> Names => All.Value.Keys;

    public static Model Of(string name) => All.Value[name];

    static Dictionary<string, Model> Read()
    {
        var models = new Dictionary<string, Model>(StringComparer.Ordinal);
        foreach (var file in new[] { "state_dict_keys.json", "state_dict_keys_extra.json" })
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedData.Folder, file)));
            foreach (var m in doc.RootElement.GetProperty("models").EnumerateObject())
            {
                var keys = m.Value.GetProperty("keys").EnumerateArray().Select(k => new Key(
                    k[0].GetString()!, k[1].EnumerateArray().Select(d => d.GetInt64()).ToArray(), k[2].GetString()!, k[3].GetString() == "param")).ToList();
                models[m.Name] = new Model(m.Value.GetProperty("num_params").GetInt64(), keys);
            }
        }
        return models;
    }
}
