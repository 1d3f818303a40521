using System.Security.Cryptography;
using Backbones.Models;
using Backbones.Serialization;
using Backbones.Transfer;

namespace Backbones.Onnx;

/// <summary>
/// Exported models kept on disk under a key that hashes the weights (every state-dict tensor's name, type, shape and
/// bytes) together with the graph's structure (nodes, attributes, shapes, metadata, exporter version), so a model is
/// exported once per weights and input shape, and any change to either makes a new file.
/// </summary>
internal static class OnnxModelCache
{
    public static string DefaultDirectory()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string root = !string.IsNullOrEmpty(xdg) ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "backbones", "onnx");
    }

    /// <summary>The cached export of <paramref name="model"/> under <paramref name="options"/>, written first if missing; and whether it was there.</summary>
    public static (string Path, bool Hit) Ensure(Backbone model, OnnxExportOptions options, string directory)
    {
        var draft = OnnxExporter.Build(model, options);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(draft.StructureHash());
        sha.AppendData(WeightsHash(model));
        string key = Convert.ToHexStringLower(sha.GetHashAndReset())[..32];
        string name = model.Architecture.Length > 0 ? model.Architecture : model.GetType().Name;
        string path = Path.Combine(directory, $"{name}-{key}.onnx");
        if (File.Exists(path) && File.Exists(path + ".data") == draft.HasExternalData(options.ExternalDataThreshold)) return (path, true);
        draft.Write(path, options.ExternalDataThreshold);
        return (path, false);
    }

    /// <summary>SHA-256 over the state dict in PyTorch's order: each key, dtype, shape and the raw bytes.</summary>
    public static byte[] WeightsHash(TorchSharp.torch.nn.Module model)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (key, value) in model.OrderedStateDict())
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes($"{key}:{value.dtype}[{string.Join(",", value.shape)}]\n"));
            using var scope = TorchSharp.torch.NewDisposeScope();
            var contiguous = value.detach().cpu().contiguous();
            if (contiguous.NumberOfElements > 0) TensorMemory.ForEachChunk(contiguous, (span, _) => sha.AppendData(span));
        }
        return sha.GetHashAndReset();
    }
}
