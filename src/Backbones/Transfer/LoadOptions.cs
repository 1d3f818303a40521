namespace Backbones.Transfer;

/// <summary>
/// How <see cref="WeightLoading.LoadStateDict(TorchSharp.torch.nn.Module, Serialization.StateDict, LoadOptions)"/>
/// pairs a checkpoint with a model: by name (the default) or by position, after the key rules.
/// </summary>
public sealed record LoadOptions
{
    /// <summary>Missing, unexpected or shape-mismatched keys are an error that lists them, raised before anything is copied.</summary>
    public bool Strict { get; init; }

    /// <summary>Key edits applied before matching.</summary>
    public LoadRules Rules { get; init; } = LoadRules.None;

    /// <summary>Pair keys by position instead of by name; null pairs by name.</summary>
    public PositionalPairing? ByPosition { get; init; }
}

/// <summary>
/// Pairing by position: the model's state-dict entries (PyTorch's order) with the checkpoint's (the file's order),
/// for models whose module names differ from the checkpoint's. Stops after <see cref="Count"/> pairs or at the
/// model key <see cref="UpToKey"/> (included); with neither, pairs as many as both sides have.
/// </summary>
public sealed record PositionalPairing
{
    public int? Count { get; init; }

    public string? UpToKey { get; init; }
}
