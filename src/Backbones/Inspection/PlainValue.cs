using System.Collections;
using System.Globalization;
using System.Numerics;
using System.Text.Json;
using Backbones.Serialization.Pickle;
using static TorchSharp.torch;

namespace Backbones.Inspection;

/// <summary>Renders the plain values a checkpoint holds (numbers, strings, containers) as Python-like text or as JSON.</summary>
public static class PlainValue
{
    public static string Text(object? value) => value switch
    {
        null => "None",
        bool b => b ? "True" : "False",
        string s => "'" + s.Replace("\\", "\\\\").Replace("'", "\\'") + "'",
        double d => Double(d),
        long or int or BigInteger => Convert.ToString(value, CultureInfo.InvariantCulture)!,
        byte[] bytes => $"<{bytes.Length} bytes>",
        Tensor t => $"tensor{Shape(t.shape)}",
        PyGlobal g => g.ToString(),
        PyDict d => "{" + string.Join(", ", d.Select(kv => $"{Text(kv.Key)}: {Text(kv.Value)}")) + "}",
        object?[] tuple => "(" + string.Join(", ", tuple.Select(Text)) + (tuple.Length == 1 ? ",)" : ")"),
        IEnumerable items => "[" + string.Join(", ", items.Cast<object?>().Select(Text)) + "]",
        _ => value.ToString() ?? "",
    };

    public static void WriteJson(Utf8JsonWriter json, object? value)
    {
        switch (value)
        {
            case null: json.WriteNullValue(); break;
            case bool b: json.WriteBooleanValue(b); break;
            case string s: json.WriteStringValue(s); break;
            case double d when double.IsFinite(d): json.WriteNumberValue(d); break;
            case double d: json.WriteStringValue(Double(d)); break;
            case long l: json.WriteNumberValue(l); break;
            case int i: json.WriteNumberValue(i); break;
            case BigInteger big: json.WriteRawValue(big.ToString(CultureInfo.InvariantCulture)); break;
            case PyDict d:
                json.WriteStartObject();
                foreach (var (k, v) in d)
                {
                    json.WritePropertyName(Convert.ToString(k, CultureInfo.InvariantCulture)!);
                    WriteJson(json, v);
                }
                json.WriteEndObject();
                break;
            case byte[] or Tensor or PyGlobal: json.WriteStringValue(Text(value)); break;
            case IEnumerable items:
                json.WriteStartArray();
                foreach (var item in items) WriteJson(json, item);
                json.WriteEndArray();
                break;
            default: json.WriteStringValue(Text(value)); break;
        }
    }

    static string Double(double d) => double.IsNaN(d) ? "nan" : double.IsPositiveInfinity(d) ? "inf" : double.IsNegativeInfinity(d) ? "-inf"
        : d.ToString("R", CultureInfo.InvariantCulture) is var s && (s.Contains('.') || s.Contains('E')) ? s : s + ".0";

    static string Shape(long[] dims) => "(" + string.Join(", ", dims) + ")";
}
