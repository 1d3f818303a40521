using System.CommandLine;
using Backbones.Onnx;

namespace Backbones.Cli;

/// <summary>What forward, classify and embed share to choose what runs the model: libtorch or ONNX Runtime, and its threads.</summary>
internal sealed class EngineOptions
{
    public readonly Option<string> Engine = new("--engine") { Description = "torch (libtorch eager) or onnx (ONNX Runtime on the model's cached export)", DefaultValueFactory = _ => "torch" };
    public readonly Option<int?> Threads = new("--threads") { Description = "Threads running the model (libtorch's or ONNX Runtime's intra-op; default one per core)" };
    public readonly Option<string> Optimization = new("--optimization") { Description = "ONNX Runtime's graph optimisation: disabled, basic, extended or all", DefaultValueFactory = _ => "all" };
    public readonly Option<string?> Cache = new("--onnx-cache") { Description = "Folder of exported models (default: ~/.cache/backbones/onnx)" };

    public EngineOptions()
    {
        Engine.AcceptOnlyFromAmong("torch", "onnx");
        Optimization.AcceptOnlyFromAmong("disabled", "basic", "extended", "all");
    }

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Engine, Threads, Optimization, Cache }) command.Options.Add(o);
    }

    /// <summary>The engine settings; for libtorch, <c>--threads</c> is applied to the process here.</summary>
    public InferenceOptions Read(ParseResult parsed, IReadOnlyList<string>? layers = null)
    {
        var kind = parsed.GetValue(Engine) == "onnx" ? InferenceEngineKind.Onnx : InferenceEngineKind.Torch;
        int? threads = parsed.GetValue(Threads);
        if (threads is < 1) throw new CliUsageException("--threads must be at least 1");
        if (threads is { } n && kind == InferenceEngineKind.Torch)
        {
            Runtime.Libtorch.EnsureLoaded();
            TorchSharp.torch.set_num_threads(n);
        }
        return new InferenceOptions
        {
            Engine = kind,
            Layers = layers ?? [],
            Threads = threads,
            Optimization = Enum.Parse<OnnxOptimization>(parsed.GetValue(Optimization)!, ignoreCase: true),
            CacheDirectory = parsed.GetValue(Cache),
        };
    }
}
