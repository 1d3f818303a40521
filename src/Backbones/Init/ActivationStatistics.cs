using System.Globalization;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Init;

/// <summary>
/// The output statistics of every leaf module in one forward (through forward hooks, in call order), to see whether an
/// initialisation keeps activations at scale, lets them vanish, or blows them up to inf/NaN.
/// </summary>
public sealed record ActivationStatistics(double InputStd, IReadOnlyList<LayerStatistics> Layers)
{
    /// <summary>Outputs with std below this fraction of the input's have vanished (float32 keeps ~7 digits).</summary>
    public const double VanishedBelow = 1e-6;
    /// <summary>Outputs with std above this multiple of the input's have exploded.</summary>
    public const double ExplodedAbove = 1e6;

    public LayerStatistics? FirstNonFinite => Layers.FirstOrDefault(l => !l.IsFinite);
    public LayerStatistics? FirstVanished => Layers.FirstOrDefault(l => l.IsFinite && l.Std < VanishedBelow * InputStd);
    public LayerStatistics? FirstExploded => Layers.FirstOrDefault(l => !l.IsFinite || l.Std > ExplodedAbove * InputStd);
    public LayerStatistics? Last => Layers.Count > 0 ? Layers[^1] : null;

    /// <summary>Runs <paramref name="model"/> once on <paramref name="input"/> without autograd, in its current train/eval mode.</summary>
    public static ActivationStatistics Measure(nn.Module<Tensor, Tensor> model, Tensor input)
    {
        var rows = new List<LayerStatistics>();
        var hooks = new List<Action>();
        try
        {
            foreach (var (path, module) in ModelInitialization.PreOrder(model, "", new HashSet<nn.Module>(ReferenceEqualityComparer.Instance)))
            {
                if (module.named_children().Any() || module is not nn.Module<Tensor, Tensor> leaf) continue;
                string type = module.GetType().Name;
                var hook = leaf.register_forward_hook((_, _, output) =>
                {
                    rows.Add(Describe(rows.Count, path.Length == 0 ? "(model)" : path, type, output));
                    return null!; // TorchSharp: a null result keeps the module's own output
                });
                hooks.Add(hook.remove);
            }
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            model.call(input);
            return new ActivationStatistics(Describe(-1, "", "", input).Std, rows);
        }
        finally
        {
            foreach (var remove in hooks) remove();
        }
    }

    // min and max in the output's dtype (NaN propagates through them, so finite extremes mean no NaN/inf and
    // the count is needed only otherwise), mean and std in float64 (float32 sums of large activations would overflow).
    static LayerStatistics Describe(int index, string path, string type, Tensor output)
    {
        using var scope = NewDisposeScope();
        var x = output.detach();
        long n = x.numel();
        if (n == 0) return new LayerStatistics(index, path, type, output.shape, double.NaN, double.NaN, double.NaN, double.NaN, 0);
        var (min, max) = x.aminmax();
        double lo = min.to_type(ScalarType.Float64).item<double>(), hi = max.to_type(ScalarType.Float64).item<double>();
        long nonFinite = double.IsFinite(lo) && double.IsFinite(hi) ? 0 : x.isfinite().logical_not().sum().item<long>();
        var wide = x.to_type(ScalarType.Float64); // std_mean is several times slower than the two on CPU
        return new LayerStatistics(index, path, type, output.shape, wide.mean().item<double>(), wide.std(unbiased: n > 1).item<double>(), lo, hi, nonFinite);
    }

    /// <summary>A table, one row per leaf-module call, then where activations vanished, exploded or stopped being finite.</summary>
    public override string ToString()
    {
        int pathWidth = Math.Max(6, Layers.Select(l => l.Path.Length).DefaultIfEmpty(0).Max());
        int typeWidth = Math.Max(4, Layers.Select(l => l.Type.Length).DefaultIfEmpty(0).Max());
        int shapeWidth = Math.Max(5, Layers.Select(l => Shape(l.Shape).Length).DefaultIfEmpty(0).Max());
        var text = new StringBuilder();
        text.AppendLine($"{"#",4}  {"module".PadRight(pathWidth)}  {"type".PadRight(typeWidth)}  {"shape".PadRight(shapeWidth)}  {"mean",10}  {"std",10}  {"min",10}  {"max",10}");
        foreach (var l in Layers)
            text.AppendLine($"{l.Index,4}  {l.Path.PadRight(pathWidth)}  {l.Type.PadRight(typeWidth)}  {Shape(l.Shape).PadRight(shapeWidth)}  {F(l.Mean),10}  {F(l.Std),10}  {F(l.Min),10}  {F(l.Max),10}"
                + (l.IsFinite ? "" : $"  {l.NonFinite} NaN/inf"));
        text.AppendLine($"input std {F(InputStd)}; last output std {(Last is null ? "-" : F(Last.Std))}");
        text.AppendLine(FirstNonFinite is { } bad ? $"first NaN/inf output: {Name(bad)}" : "all outputs finite");
        text.AppendLine(FirstVanished is { } gone ? $"vanished (std < {VanishedBelow:0e0} x input std) first at {Name(gone)}" : "no output vanished");
        text.Append(FirstExploded is { } big ? $"exploded (std > {ExplodedAbove:0e0} x input std, or NaN/inf) first at {Name(big)}" : "no output exploded");
        return text.ToString();
    }

    static string Name(LayerStatistics l) => $"row {l.Index}, {l.Path} ({l.Type})";

    static string Shape(long[] shape) => $"[{string.Join(", ", shape)}]";

    internal static string F(double v) => double.IsNaN(v) ? "nan" : double.IsPositiveInfinity(v) ? "inf" : double.IsNegativeInfinity(v) ? "-inf"
        : v.ToString("0.000e+00", CultureInfo.InvariantCulture);
}
