using System.Globalization;
using System.Numerics;
using System.Text.Json;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using static TorchSharp.torch;

namespace Backbones.Inspection;

/// <summary>
/// What a checkpoint file holds, as data and as text or JSON: each tensor's dtype, shape, strides (when not
/// contiguous), element count and optionally float64 statistics; the non-tensor entries; totals.
/// </summary>
public sealed record CheckpointReport(string File, string Format, IReadOnlyList<TensorEntry> Tensors, IReadOnlyList<KeyValuePair<string, object?>> Values)
{
    public long TotalElements => Tensors.Sum(t => t.Numel);
    public long TotalBytes => Tensors.Sum(t => t.Numel * (TorchDType.FromName(t.DType)?.ElementSize ?? 0));

    /// <summary>The format as the JSON output spells it: pth-zip, pth-legacy (the tar variant included) or safetensors.</summary>
    public static string Spell(CheckpointFormat format) => format switch
    {
        CheckpointFormat.PthZip => "pth-zip",
        CheckpointFormat.PthLegacy or CheckpointFormat.PthLegacyTar => "pth-legacy",
        _ => "safetensors",
    };

    public static CheckpointReport Build(Checkpoint checkpoint, bool withStats)
    {
        var tensors = new List<TensorEntry>();
        var values = new List<KeyValuePair<string, object?>>();
        foreach (var (key, value) in checkpoint.Leaves())
        {
            if (value is Tensor t) tensors.Add(TensorEntry.Of(key, t, withStats));
            else values.Add(new(key, value));
        }
        foreach (var (k, v) in checkpoint.Metadata) values.Add(new(k, v));
        return new CheckpointReport(checkpoint.Path, Spell(checkpoint.Format), tensors, values);
    }

    public void WriteText(TextWriter output)
    {
        bool stats = Tensors.Any(t => t.Stats is not null);
        output.WriteLine($"{File}: {Format}");
        var header = new List<string> { "key", "dtype", "shape", "strides", "numel" };
        if (stats) header.AddRange(["sum", "min", "max", "mean"]);
        var rows = Tensors.Select(t =>
        {
            var row = new List<string> { t.Key, t.DType, Dims(t.Shape), t.Strides is null ? "" : Dims(t.Strides), t.Numel.ToString(CultureInfo.InvariantCulture) };
            if (stats) row.AddRange(new[] { t.Stats?.Sum, t.Stats?.Min, t.Stats?.Max, t.Stats?.Mean }.Select(Number));
            return row;
        }).ToList();
        TextTable.Write(output, header, rows);
        if (Values.Count > 0)
        {
            output.WriteLine();
            output.WriteLine("values:");
            foreach (var (k, v) in Values) output.WriteLine($"  {k} = {PlainValue.Text(v)}");
        }
        output.WriteLine();
        output.WriteLine($"total: {Tensors.Count} tensors, {TotalElements.ToString("N0", CultureInfo.InvariantCulture)} elements, {TotalBytes.ToString("N0", CultureInfo.InvariantCulture)} bytes");
    }

    public void WriteJson(TextWriter output)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("format", Format);
            json.WriteStartArray("tensors");
            foreach (var t in Tensors)
            {
                json.WriteStartObject();
                json.WriteString("key", t.Key);
                json.WriteString("dtype", t.DType);
                WriteLongs(json, "shape", t.Shape);
                if (t.Strides is not null) WriteLongs(json, "strides", t.Strides);
                json.WriteNumber("numel", t.Numel);
                if (t.Stats is { } s)
                {
                    WriteNullable(json, "sum", s.Sum);
                    WriteNullable(json, "min", s.Min);
                    WriteNullable(json, "max", s.Max);
                    WriteNullable(json, "mean", s.Mean);
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartObject("metadata");
            foreach (var (k, v) in Values)
            {
                json.WritePropertyName(k);
                PlainValue.WriteJson(json, v);
            }
            json.WriteEndObject();
            json.WriteStartObject("totals");
            json.WriteNumber("tensors", Tensors.Count);
            json.WriteNumber("numel", TotalElements);
            json.WriteNumber("bytes", TotalBytes);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    static void WriteLongs(Utf8JsonWriter json, string name, long[] values)
    {
        json.WriteStartArray(name);
        foreach (var v in values) json.WriteNumberValue(v);
        json.WriteEndArray();
    }

    /// <summary>JSON has no NaN or infinity; those become null.</summary>
    static void WriteNullable(Utf8JsonWriter json, string name, double? value)
    {
        if (value is { } v && double.IsFinite(v)) json.WriteNumber(name, v);
        else json.WriteNull(name);
    }

    static string Dims(long[] dims) => "[" + string.Join(", ", dims) + "]";

    static string Number(double? v) => v is { } x ? x.ToString("G6", CultureInfo.InvariantCulture) : "-";
}

/// <summary>One tensor of a checkpoint report.</summary>
public sealed record TensorEntry(string Key, string DType, long[] Shape, long[]? Strides, long Numel, TensorStats? Stats)
{
    public static TensorEntry Of(string key, Tensor t, bool withStats) =>
        new(key, TorchDType.Of(t.dtype).Name, t.shape, t.is_contiguous() ? null : t.stride(), t.NumberOfElements,
            withStats ? TensorStats.Of(t) : null);
}

/// <summary>Sum, min, max and mean computed in float64 (null where undefined: empty or complex tensors).</summary>
public sealed record TensorStats(double? Sum, double? Min, double? Max, double? Mean)
{
    public static TensorStats Of(Tensor t)
    {
        if (t.is_complex()) return new(null, null, null, null);
        using var scope = NewDisposeScope();
        using var d = t.to_type(ScalarType.Float64);
        if (t.NumberOfElements == 0) return new(0, null, null, null);
        return new(d.sum().item<double>(), d.min().item<double>(), d.max().item<double>(), d.mean().item<double>());
    }
}
