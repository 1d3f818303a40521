using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Transfer;

/// <summary>
/// How much of a module trains: parameter tensors and elements with <c>requires_grad</c> on and off, and the
/// BatchNorms held in eval mode by <see cref="BatchNormFreezing"/>.
/// </summary>
public sealed record TrainableSummary(int TrainableTensors, int FrozenTensors, long TrainableElements, long FrozenElements, int HeldBatchNorms)
{
    public int TotalTensors => TrainableTensors + FrozenTensors;
    public long TotalElements => TrainableElements + FrozenElements;

    public static TrainableSummary Of(nn.Module model)
    {
        int trainable = 0, frozen = 0;
        long trainableElements = 0, frozenElements = 0;
        foreach (var (_, p) in ModuleWalk.Parameters(model))
        {
            if (p.requires_grad) { trainable++; trainableElements += p.numel(); }
            else { frozen++; frozenElements += p.numel(); }
        }
        int held = ModuleWalk.Modules(model).Count(m => BatchNormFreezing.IsHeld(m.Module));
        return new(trainable, frozen, trainableElements, frozenElements, held);
    }

    public override string ToString()
    {
        var c = CultureInfo.InvariantCulture;
        double share = TotalElements == 0 ? 0 : 100.0 * TrainableElements / TotalElements;
        return string.Format(c, "trainable: {0:N0} of {1:N0} parameters ({2:F2} %) in {3} of {4} tensors", TrainableElements, TotalElements, share, TrainableTensors, TotalTensors)
            + (HeldBatchNorms > 0 ? string.Format(c, "; {0} BatchNorms held in eval mode", HeldBatchNorms) : "");
    }
}
