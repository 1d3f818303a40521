using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Init;

/// <summary>
/// Which parameters <c>model.Initialize</c> may touch, and the generator it draws from. With
/// nothing set, the whole model.
/// </summary>
public sealed record InitOptions
{
    /// <summary>
    /// Module paths (each selects the module and everything below it; "" the whole model) or state-dict keys (that one
    /// parameter). A name the model lacks is an error. A LoadReport's missing keys select exactly the new parameters.
    /// </summary>
    public IEnumerable<string>? Only { get; init; }

    /// <summary>A further filter on (module path, module).</summary>
    public Func<string, nn.Module, bool>? Where { get; init; }

    /// <summary>Parameter keys to leave alone, such as a LoadReport's loaded keys.</summary>
    public IEnumerable<string>? Skip { get; init; }

    public Generator? Generator { get; init; }
}
