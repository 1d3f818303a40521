using System.Text.Json;
using Backbones.Tests.Support;

namespace Backbones.Tests.Init;

/// <summary>What real torch.nn.init computes (tests/reference/nn_init.py), run once per test process.</summary>
public static class NnInitReference
{
    static readonly Lazy<JsonDocument> Document = new(() =>
    {
        var (code, output, error) = PyTorch.RunScript("nn_init.py");
        Assert.True(code == 0, output + error);
        return JsonDocument.Parse(output);
    });

    /// <summary>The reference's section (fans, gains, fills, seeded); skips the test without PyTorch.</summary>
    public static IEnumerable<JsonElement> Section(string name)
    {
        PyTorch.Require();
        return Document.Value.RootElement.GetProperty(name).EnumerateArray().ToList();
    }

    public static long[] Shape(JsonElement e) => e.EnumerateArray().Select(d => d.GetInt64()).ToArray();

    public static bool IsError(JsonElement e) => e.ValueKind == JsonValueKind.String && e.GetString() == "error";

    public static float[] Values(JsonElement e) => e.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();
}
