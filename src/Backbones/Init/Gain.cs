namespace Backbones.Init;

/// <summary>
/// The recommended gain for a nonlinearity, as <c>torch.nn.init.calculate_gain</c>: 1 for the linear functions and
/// sigmoid, 5/3 for tanh, √2 for relu, √(2 / (1 + slope²)) for leaky_relu (slope 0.01 unless given), 3/4 for selu.
/// </summary>
public static class Gain
{
    /// <summary>Every name <see cref="Calculate"/> accepts, in PyTorch's order (its <c>nn.functional</c> names).</summary>
    public static IReadOnlyList<string> Nonlinearities { get; } =
        ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"];

    /// <param name="nonlinearity">A name of <see cref="Nonlinearities"/>.</param>
    /// <param name="param">leaky_relu's negative slope (default 0.01); ignored by the others, as in PyTorch.</param>
    public static double Calculate(string nonlinearity, double? param = null) => nonlinearity switch
    {
        "linear" or "conv1d" or "conv2d" or "conv3d" or "conv_transpose1d" or "conv_transpose2d" or "conv_transpose3d" or "sigmoid" => 1.0,
        "tanh" => 5.0 / 3,
        "relu" => Math.Sqrt(2.0),
        "leaky_relu" => LeakyRelu(param ?? 0.01),
        "selu" => 3.0 / 4, // PyTorch's empirical value (pytorch/pytorch#50664)
        _ => throw new ArgumentException($"unsupported nonlinearity '{nonlinearity}'; supported: {string.Join(", ", Nonlinearities)}", nameof(nonlinearity)),
    };

    static double LeakyRelu(double slope) =>
        double.IsFinite(slope) ? Math.Sqrt(2.0 / (1 + slope * slope)) : throw new ArgumentException($"negative_slope {slope} not a valid number", "param");
}
