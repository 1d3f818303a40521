using static TorchSharp.torch;

namespace Backbones.Init;

/// <summary>
/// Fan-in and fan-out of a weight exactly as <c>torch.nn.init._calculate_fan_in_and_fan_out</c>: dimension 1 (inputs)
/// and 0 (outputs), each times the product of the trailing (kernel) dimensions; a transposed convolution's weight
/// [in, out/groups, k...] therefore gets the same swapped fans PyTorch gives it.
/// </summary>
public static class Fans
{
    public static (long FanIn, long FanOut) Compute(Tensor tensor) => Compute(tensor.shape);

    public static (long FanIn, long FanOut) Compute(long[] shape)
    {
        if (shape.Length < 2)
            throw new ArgumentException($"fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (shape [{string.Join(", ", shape)}])");
        long receptiveField = 1;
        for (int i = 2; i < shape.Length; i++) receptiveField *= shape[i];
        return (shape[1] * receptiveField, shape[0] * receptiveField);
    }

    /// <summary>The fan <paramref name="mode"/> selects, as <c>_calculate_correct_fan</c>.</summary>
    public static long Select(Tensor tensor, FanMode mode)
    {
        var (fanIn, fanOut) = Compute(tensor);
        return mode == FanMode.FanIn ? fanIn : fanOut;
    }
}
