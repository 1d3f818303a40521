using System.Globalization;
using System.Text;
using System.Text.Json;
using Backbones.IO;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using static TorchSharp.torch;

namespace Backbones.Vision;

/// <summary>
/// Writes N feature vectors with the names of their images, by the output's extension: <c>.safetensors</c> (tensor
/// <c>embeddings</c> N × C, float32; names under the metadata key <c>paths</c> as a JSON list), <c>.npy</c> (NumPy format
/// 1.0, little-endian float32, N × C) or <c>.csv</c> (header <c>path,v0,...</c>, one row an image). Beside .safetensors and
/// .npy, <c>STEM.paths.txt</c> lists the names one a line in row order. Every file is written atomically.
/// </summary>
public static class EmbeddingFile
{
    public static readonly IReadOnlyList<string> Extensions = [".safetensors", ".npy", ".csv"];

    /// <summary>Throws unless <paramref name="path"/> ends in one of <see cref="Extensions"/>.</summary>
    public static void CheckExtension(string path)
    {
        if (!Extensions.Contains(Path.GetExtension(path).ToLowerInvariant()))
            throw new ArgumentException($"{path}: the output must end in {string.Join(", ", Extensions)}");
    }

    /// <summary>Where the names go beside a .safetensors or .npy output: the output's path with <c>.paths.txt</c> for its extension.</summary>
    public static string PathsFile(string output) => Path.ChangeExtension(output, ".paths.txt");

    /// <summary>Writes <paramref name="vectors"/> (N × C, float32) and <paramref name="names"/> (N) to <paramref name="output"/>.</summary>
    public static void Write(string output, Tensor vectors, IReadOnlyList<string> names, IReadOnlyDictionary<string, string>? metadata = null)
    {
        CheckExtension(output);
        if (vectors.dim() != 2 || vectors.shape[0] != names.Count)
            throw new ArgumentException($"{names.Count} names for vectors of shape [{string.Join(", ", vectors.shape)}]");
        using var scope = NewDisposeScope();
        var rows = vectors.to_type(ScalarType.Float32).cpu().contiguous();
        switch (Path.GetExtension(output).ToLowerInvariant())
        {
            case ".safetensors":
                var meta = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>()) { ["paths"] = JsonSerializer.Serialize(names) };
                Checkpoint.Save(output, new PyDict { Ordered = true, ["embeddings"] = rows }, CheckpointFormat.SafeTensors, meta);
                WriteNames(output, names);
                break;
            case ".npy":
                AtomicFile.Write(output, stream => WriteNpy(stream, rows));
                WriteNames(output, names);
                break;
            default:
                AtomicFile.Write(output, stream => WriteCsv(stream, rows, names));
                break;
        }
    }

    static void WriteNames(string output, IReadOnlyList<string> names) =>
        AtomicFile.Write(PathsFile(output), stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), leaveOpen: true) { NewLine = "\n" };
            foreach (var n in names) writer.WriteLine(n);
        });

    /// <summary>NumPy's .npy format 1.0: magic, version, a header dict padded with spaces to a multiple of 64 bytes, then the data.</summary>
    static void WriteNpy(Stream stream, Tensor rows)
    {
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows.shape[0]}, {rows.shape[1]}), }}";
        int unpadded = 10 + dict.Length + 1;
        string header = dict + new string(' ', (64 - unpadded % 64) % 64) + "\n";
        stream.Write([0x93, .. "NUMPY"u8, 1, 0, (byte)(header.Length & 0xFF), (byte)(header.Length >> 8)]);
        stream.Write(Encoding.ASCII.GetBytes(header));
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("writing .npy needs a little-endian machine");
        if (rows.NumberOfElements > 0) TensorMemory.ForEachChunk(rows, (span, _) => stream.Write(span));
    }

    static void WriteCsv(Stream stream, Tensor rows, IReadOnlyList<string> names)
    {
        using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
        long width = rows.shape[1];
        writer.WriteLine("path," + string.Join(",", Enumerable.Range(0, (int)width).Select(i => $"v{i}")));
        var values = rows.data<float>().ToArray();
        for (int r = 0; r < names.Count; r++)
        {
            writer.Write(Quote(names[r]));
            for (long c = 0; c < width; c++)
            {
                writer.Write(',');
                writer.Write(values[r * width + c].ToString("R", CultureInfo.InvariantCulture));
            }
            writer.WriteLine();
        }
    }

    // RFC 4180: a field with a comma, quote or line break goes in quotes, its quotes doubled.
    static string Quote(string field) =>
        field.AsSpan().IndexOfAny(",\"\r\n") < 0 ? field : "\"" + field.Replace("\"", "\"\"") + "\"";
}
