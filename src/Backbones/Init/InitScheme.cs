using System.Globalization;
using static TorchSharp.torch;

namespace Backbones.Init;

/// <summary>
/// One way to fill a parameter, named as PyTorch writes the call (reports print the name). <c>Fill</c> receives the
/// parameter, its module's weight (bias schemes that depend on the weight's fan-in need it) and the generator.
/// </summary>
public sealed record InitScheme(string Name, Action<Tensor, Tensor?, Generator?> Fill)
{
    public static InitScheme Zeros { get; } = new("zeros_", (t, _, _) => Initializers.Zeros(t));
    public static InitScheme Ones { get; } = new("ones_", (t, _, _) => Initializers.Ones(t));
    public static InitScheme Eye { get; } = new("eye_", (t, _, _) => Initializers.Eye(t));

    public static InitScheme Constant(double value) => new(Call("constant_", value), (t, _, _) => Initializers.Constant(t, value));
    public static InitScheme Uniform(double a, double b) => new(Call("uniform_", a, b), (t, _, g) => Initializers.Uniform(t, a, b, g));
    public static InitScheme Normal(double mean, double std) => new(Call("normal_", mean, std), (t, _, g) => Initializers.Normal(t, mean, std, g));

    public static InitScheme TruncNormal(double mean = 0, double std = 1, double a = -2, double b = 2) =>
        new(Call("trunc_normal_", $"std={F(std)}", mean != 0 ? $"mean={F(mean)}" : null, $"a={F(a)}", $"b={F(b)}"), (t, _, g) => Initializers.TruncNormal(t, mean, std, a, b, g));

    public static InitScheme XavierUniform(double gain = 1) => new(Call("xavier_uniform_", Gain(gain)), (t, _, g) => Initializers.XavierUniform(t, gain, g));
    public static InitScheme XavierNormal(double gain = 1) => new(Call("xavier_normal_", Gain(gain)), (t, _, g) => Initializers.XavierNormal(t, gain, g));

    public static InitScheme KaimingUniform(double a = 0, FanMode mode = FanMode.FanIn, string nonlinearity = "leaky_relu") =>
        new(Kaiming("kaiming_uniform_", a, mode, nonlinearity), (t, _, g) => Initializers.KaimingUniform(t, a, mode, nonlinearity, g));

    public static InitScheme KaimingNormal(double a = 0, FanMode mode = FanMode.FanIn, string nonlinearity = "leaky_relu") =>
        new(Kaiming("kaiming_normal_", a, mode, nonlinearity), (t, _, g) => Initializers.KaimingNormal(t, a, mode, nonlinearity, g));

    public static InitScheme Orthogonal(double gain = 1) => new(Call("orthogonal_", Gain(gain)), (t, _, g) => Initializers.Orthogonal(t, gain, g));
    public static InitScheme Dirac(long groups = 1) => new(Call("dirac_", groups != 1 ? $"groups={groups}" : null), (t, _, _) => Initializers.Dirac(t, groups));
    public static InitScheme Sparse(double sparsity, double std = 0.01) => new(Call("sparse_", sparsity, $"std={F(std)}"), (t, _, g) => Initializers.Sparse(t, sparsity, std, g));

    /// <summary>U(-1/√fan, 1/√fan) of the parameter's own fan (torchvision's EfficientNet classifier: fan-out).</summary>
    public static InitScheme UniformInverseSqrtFan(FanMode mode) =>
        new($"uniform_(±1/sqrt({ModeName(mode)}))", (t, _, g) => { double r = 1 / Math.Sqrt(Fans.Select(t, mode)); Initializers.Uniform(t, -r, r, g); });

    /// <summary>What PyTorch's Conv and Linear constructors give a weight: kaiming_uniform_(a=√5), i.e. U(±1/√fan_in).</summary>
    public static InitScheme TorchDefaultWeight { get; } = new("kaiming_uniform_(a=sqrt(5))", (t, _, g) => Initializers.KaimingUniform(t, Math.Sqrt(5), generator: g));

    /// <summary>What PyTorch's Conv and Linear constructors give a bias: U(±1/√fan_in of the weight) (untouched when fan_in is 0).</summary>
    public static InitScheme TorchDefaultBias { get; } = new("uniform_(±1/sqrt(weight fan_in))", (t, weight, g) =>
    {
        if (weight is null) throw new ArgumentException("PyTorch's default bias initialisation needs the module's weight");
        long fanIn = Fans.Compute(weight).FanIn;
        if (fanIn == 0) return;
        double bound = 1 / Math.Sqrt(fanIn);
        Initializers.Uniform(t, -bound, bound, g);
    });

    public override string ToString() => Name;

    static string Kaiming(string name, double a, FanMode mode, string nonlinearity)
    {
        Backbones.Init.Gain.Calculate(nonlinearity, a); // an unknown nonlinearity fails when the policy is written, not when it runs
        return Call(name, a != 0 ? $"a={F(a)}" : null, $"mode={ModeName(mode)}", $"nonlinearity={nonlinearity}");
    }

    static string ModeName(FanMode mode) => mode == FanMode.FanIn ? "fan_in" : "fan_out";
    static string? Gain(double gain) => gain != 1 ? $"gain={F(gain)}" : null;
    static string F(double value) => value.ToString("G6", CultureInfo.InvariantCulture);

    static string Call(string name, params object?[] args) =>
        $"{name}({string.Join(", ", args.Where(a => a is not null).Select(a => a is double d ? F(d) : a!.ToString()))})";
}
