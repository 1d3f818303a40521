using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Init;

/// <summary>
/// The schemes of <c>torch.nn.init</c> with PyTorch's definitions: each fills its tensor in place without recording
/// gradients, draws from the given generator (or the global one) and returns the tensor.
/// </summary>
public static class Initializers
{
    public static Tensor Uniform(Tensor tensor, double a = 0, double b = 1, Generator? generator = null)
    {
        using var _ = no_grad();
        return tensor.uniform_(a, b, generator);
    }

    public static Tensor Normal(Tensor tensor, double mean = 0, double std = 1, Generator? generator = null)
    {
        using var _ = no_grad();
        return tensor.normal_(mean, std, generator);
    }

    /// <summary>normal(mean, std) cut to the absolute bounds [a, b], as <c>trunc_normal_</c>.</summary>
    public static Tensor TruncNormal(Tensor tensor, double mean = 0, double std = 1, double a = -2, double b = 2, Generator? generator = null) =>
        TruncatedNormal.Fill_(tensor, mean, std, a, b, generator);

    public static Tensor Constant(Tensor tensor, double value)
    {
        using var _ = no_grad();
        return tensor.fill_(value);
    }

    public static Tensor Ones(Tensor tensor) => Constant(tensor, 1);

    public static Tensor Zeros(Tensor tensor)
    {
        using var _ = no_grad();
        return tensor.zero_();
    }

    /// <summary>The identity matrix on a 2-D tensor (ones on the main diagonal of a rectangular one).</summary>
    public static Tensor Eye(Tensor tensor)
    {
        if (tensor.dim() != 2) throw new ArgumentException($"eye: only tensors with 2 dimensions are supported, got shape {Shape(tensor)}");
        using var _ = no_grad();
        using var identity = eye(tensor.shape[0], tensor.shape[1], tensor.dtype, tensor.device);
        return tensor.copy_(identity);
    }

    /// <summary>
    /// The Dirac delta on a 3-, 4- or 5-D convolution weight: output channel d of each of <paramref name="groups"/>
    /// groups passes input channel d through at the kernel's centre, for as many channels as both sides have.
    /// </summary>
    public static Tensor Dirac(Tensor tensor, long groups = 1)
    {
        long dims = tensor.dim();
        if (dims is < 3 or > 5) throw new ArgumentException($"dirac: only tensors with 3, 4, or 5 dimensions are supported, got shape {Shape(tensor)}");
        if (groups < 1 || tensor.shape[0] % groups != 0) throw new ArgumentException($"dirac: dim 0 ({tensor.shape[0]}) must be divisible by groups ({groups})");
        long outPerGroup = tensor.shape[0] / groups, channels = Math.Min(outPerGroup, tensor.shape[1]);
        var rows = new List<long>();
        var cols = new List<long>();
        for (long g = 0; g < groups; g++)
            for (long d = 0; d < channels; d++) { rows.Add(g * outPerGroup + d); cols.Add(d); }

        using var _ = no_grad();
        tensor.zero_();
        if (rows.Count == 0) return tensor;
        using var rowIndex = torch.tensor(rows.ToArray(), device: tensor.device);
        using var colIndex = torch.tensor(cols.ToArray(), device: tensor.device);
        var index = new List<TensorIndex> { TensorIndex.Tensor(rowIndex), TensorIndex.Tensor(colIndex) };
        for (int k = 2; k < dims; k++) index.Add(TensorIndex.Single(tensor.shape[k] / 2));
        using var one = ones(rows.Count, dtype: tensor.dtype, device: tensor.device);
        return tensor.index_put_(one, index.ToArray());
    }

    /// <summary>Glorot: U(-a, a) with a = gain·√(6 / (fan_in + fan_out)).</summary>
    public static Tensor XavierUniform(Tensor tensor, double gain = 1, Generator? generator = null)
    {
        double bound = Math.Sqrt(3.0) * XavierStd(tensor, gain);
        return Uniform(tensor, -bound, bound, generator);
    }

    /// <summary>Glorot: N(0, std²) with std = gain·√(2 / (fan_in + fan_out)).</summary>
    public static Tensor XavierNormal(Tensor tensor, double gain = 1, Generator? generator = null) =>
        Normal(tensor, 0, XavierStd(tensor, gain), generator);

    /// <summary>He: U(-b, b) with b = gain·√(3 / fan), gain = <see cref="Gain.Calculate"/>(nonlinearity, a); empty tensors are left alone.</summary>
    public static Tensor KaimingUniform(Tensor tensor, double a = 0, FanMode mode = FanMode.FanIn, string nonlinearity = "leaky_relu", Generator? generator = null)
    {
        if (tensor.numel() == 0) return tensor;
        double bound = Math.Sqrt(3.0) * KaimingStd(tensor, a, mode, nonlinearity);
        return Uniform(tensor, -bound, bound, generator);
    }

    /// <summary>He: N(0, std²) with std = gain / √fan, gain = <see cref="Gain.Calculate"/>(nonlinearity, a); empty tensors are left alone.</summary>
    public static Tensor KaimingNormal(Tensor tensor, double a = 0, FanMode mode = FanMode.FanIn, string nonlinearity = "leaky_relu", Generator? generator = null)
    {
        if (tensor.numel() == 0) return tensor;
        return Normal(tensor, 0, KaimingStd(tensor, a, mode, nonlinearity), generator);
    }

    /// <summary>
    /// A (semi-)orthogonal matrix times <paramref name="gain"/> (trailing dimensions flattened), as Saxe et al.:
    /// the QR factorisation of a standard normal matrix, Q's columns signed by R's diagonal so Q is Haar-distributed.
    /// </summary>
    public static Tensor Orthogonal(Tensor tensor, double gain = 1, Generator? generator = null)
    {
        if (tensor.dim() < 2) throw new ArgumentException($"orthogonal: only tensors with 2 or more dimensions are supported, got shape {Shape(tensor)}");
        if (tensor.numel() == 0) return tensor;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        long rows = tensor.shape[0], cols = tensor.numel() / rows;
        var flattened = empty(rows, cols, tensor.dtype, tensor.device).normal_(0, 1, generator);
        if (rows < cols) flattened = flattened.t();
        var (q, r) = linalg.qr(flattened);
        q = q * diag(r, 0).sign();
        if (rows < cols) q = q.t();
        tensor.copy_(q.reshape(tensor.shape));
        return tensor.mul_(gain);
    }

    /// <summary>
    /// Martens' sparse initialisation of a 2-D tensor: N(0, std²), then ⌈sparsity·rows⌉ entries of every column,
    /// chosen by a random permutation per column, set to zero.
    /// </summary>
    public static Tensor Sparse(Tensor tensor, double sparsity, double std = 0.01, Generator? generator = null)
    {
        if (tensor.dim() != 2) throw new ArgumentException($"sparse: only tensors with 2 dimensions are supported, got shape {Shape(tensor)}");
        if (!(sparsity >= 0 && sparsity <= 1)) throw new ArgumentOutOfRangeException(nameof(sparsity), sparsity, "sparsity is the fraction of each column set to zero, in [0, 1]");
        long rows = tensor.shape[0], cols = tensor.shape[1];
        long zeros = (long)Math.Ceiling(sparsity * rows);
        using var _ = no_grad();
        tensor.normal_(0, std, generator);
        for (long col = 0; col < cols; col++)
        {
            using var scope = NewDisposeScope();
            var chosen = randperm(rows, generator: generator)[TensorIndex.Slice(0, zeros)].to(tensor.device);
            tensor.index_put_(0.0, TensorIndex.Tensor(chosen), TensorIndex.Single(col));
        }
        return tensor;
    }

    static double XavierStd(Tensor tensor, double gain)
    {
        var (fanIn, fanOut) = Fans.Compute(tensor);
        return gain * Math.Sqrt(2.0 / (fanIn + fanOut));
    }

    static double KaimingStd(Tensor tensor, double a, FanMode mode, string nonlinearity) =>
        Gain.Calculate(nonlinearity, a) / Math.Sqrt(Fans.Select(tensor, mode));

    static string Shape(Tensor tensor) => $"[{string.Join(", ", tensor.shape)}]";
}
