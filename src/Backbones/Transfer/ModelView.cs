using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Transfer;

/// <summary>
/// A module that presents part of another model (a trunk, an extractor, a features-only view): it registers some of
/// the model's children as its own, so its state-dict keys are the model's without a prefix, follows the model's
/// train/eval mode, and owns the model (disposing the view disposes it).
/// </summary>
public abstract class ModelView<TOutput> : nn.Module<Tensor, TOutput>
{
    readonly nn.Module _owned;

    protected ModelView(string name, nn.Module owned) : base(name) => _owned = owned;

    public override void train(bool train = true) => _owned.train(train);
    public override bool training => _owned.training;

    // Children are registered by the subclass; the owned model itself must not become one (its keys would gain a prefix).
    protected override void RegisterComponents() { }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _owned.Dispose();
    }
}
