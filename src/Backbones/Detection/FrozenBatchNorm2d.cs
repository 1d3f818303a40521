using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision's <c>ops.FrozenBatchNorm2d</c>: BatchNorm with fixed statistics and affine terms, all four held as buffers
/// (weight, bias, running_mean, running_var; no num_batches_tracked), so nothing trains and train mode changes nothing.
/// </summary>
/// <remarks>
/// As torchvision's <c>_load_from_state_dict</c> does, a checkpoint's <c>num_batches_tracked</c> for this module is
/// dropped on load: <see cref="Transfer.WeightLoading"/> lists it as skipped instead of unexpected.
/// </remarks>
public sealed class FrozenBatchNorm2d : nn.Module<Tensor, Tensor>
{
    // Tensor fields register as buffers, in this order (torchvision's); not readonly: Module.to() replaces them.
    Tensor weight;
    Tensor bias;
    Tensor running_mean;
    Tensor running_var;

    public FrozenBatchNorm2d(long numFeatures, double eps = 1e-5) : base(nameof(FrozenBatchNorm2d))
    {
        if (numFeatures <= 0) throw new ArgumentOutOfRangeException(nameof(numFeatures), numFeatures, "FrozenBatchNorm2d needs at least one feature");
        NumFeatures = numFeatures;
        Eps = eps;
        weight = ones(numFeatures);
        bias = zeros(numFeatures);
        running_mean = zeros(numFeatures);
        running_var = ones(numFeatures);
        RegisterComponents();
    }

    public long NumFeatures { get; }

    public double Eps { get; }

    public override Tensor forward(Tensor x)
    {
        if (x.dim() != 4 || x.shape[1] != NumFeatures)
            throw new ArgumentException($"FrozenBatchNorm2d({NumFeatures}) expects N×{NumFeatures}×H×W input, got [{string.Join(", ", x.shape)}]", nameof(x));
        using var scope = NewDisposeScope();
        // torchvision's order of operations, so the rounding is the same.
        var w = weight.reshape(1, -1, 1, 1);
        var b = bias.reshape(1, -1, 1, 1);
        var rv = running_var.reshape(1, -1, 1, 1);
        var rm = running_mean.reshape(1, -1, 1, 1);
        var scale = w * (rv + Eps).rsqrt();
        var shift = b - rm * scale;
        return (x * scale + shift).MoveToOuterDisposeScope();
    }
}
