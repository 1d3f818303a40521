using Backbones.Models;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Vision;

/// <summary>A Grad-CAM map (H × W in [0, 1], at the input's size), the class it explains, that class's score, and the layer.</summary>
public sealed record GradCamResult(Tensor Map, int Class, double Score, string Layer) : IDisposable
{
    public void Dispose() => Map.Dispose();
}

/// <summary>
/// What a model looks at, as maps the size of its input in [0, 1]: each layer's output averaged over channels (the classic
/// activation-map script), or Grad-CAM (Selvaraju et al. 2017): the ReLU of the layer's channels weighted by the spatial
/// mean of the class score's gradient, upsampled bilinearly and scaled to [0, 1].
/// </summary>
public static class ActivationMaps
{
    /// <summary>Paths of every 2-D convolution of <paramref name="model"/>, in the order they were registered.</summary>
    public static IReadOnlyList<string> Convolutions(nn.Module model) =>
        model.named_modules().Where(m => m.module is TorchSharp.Modules.Conv2d).Select(m => m.name).ToList();

    /// <summary>
    /// One forward of <paramref name="input"/> (1 × 3 × H × W) in eval mode; for each of <paramref name="layers"/>, its
    /// output (as the module returned it, before any in-place activation after it) averaged over channels, upsampled
    /// bilinearly to H × W and scaled to [0, 1] (min to 0, max to 1; a constant map is all 0).
    /// </summary>
    public static IReadOnlyDictionary<string, Tensor> ChannelMeans(nn.Module<Tensor, Tensor> model, Tensor input, IEnumerable<string> layers)
    {
        CheckInput(input);
        model.eval();
        using var capture = FeatureCapture.Attach(model, layers);
        using (var scope = NewDisposeScope())
        using (inference_mode())
            model.call(input);
        var maps = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (path, output) in capture.Outputs)
        {
            if (output.dim() != 4) throw new ArgumentException($"'{path}' gives [{string.Join(", ", output.shape)}], not a map (N × C × H × W)");
            maps[path] = Scaled(output.mean([1], keepdim: true), input.shape[2], input.shape[3]);
        }
        return maps;
    }

    /// <summary>
    /// Grad-CAM of <paramref name="targetClass"/> (by default the top class) for <paramref name="input"/> (1 × 3 × H × W) at
    /// <paramref name="layer"/>, by default the last convolutional stage's output (<see cref="Backbone.ForwardFeatures"/>:
    /// ResNet's layer4, VGG's features). The gradient is of the class's logit, before softmax.
    /// </summary>
    public static GradCamResult GradCam(Backbone model, Tensor input, int? targetClass = null, string? layer = null)
    {
        CheckInput(input);
        model.eval();
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        Tensor activation, logits;
        if (layer is null)
        {
            Tensor features;
            using (no_grad()) features = model.ForwardFeatures(input);
            activation = features.detach().requires_grad_(true);
            logits = model.ForwardHead(activation);
        }
        else
        {
            var (_, module) = ModulePaths.Resolve(model, [layer]).Single();
            Tensor? seen = null;
            // The module's output becomes a leaf the gradient is taken for; the network goes on from a copy, so an
            // in-place activation after the module (VGG's ReLU) does not touch it.
            var hook = module.register_forward_hook((_, _, output) =>
            {
                if (seen is not null) return null!;
                seen = output.detach().requires_grad_(true);
                scope.Attach(seen); // ours: the module's own scope would dispose it when its forward ends
                return seen.clone();
            });
            try
            {
                logits = model.call(input);
            }
            finally
            {
                hook.remove();
            }
            activation = seen ?? throw new InvalidOperationException($"a forward of {model.Architecture} never ran '{layer}'");
        }
        if (activation.dim() != 4) throw new ArgumentException($"'{layer ?? "features"}' gives [{string.Join(", ", activation.shape)}], not a map (N × C × H × W)");
        int cls = targetClass ?? (int)logits[0].argmax().item<long>();
        if (cls < 0 || cls >= logits.shape[1]) throw new ArgumentOutOfRangeException(nameof(targetClass), $"class {cls} is not one of the model's {logits.shape[1]}");
        var score = logits[0, cls];
        var gradient = autograd.grad([score], [activation], retain_graph: false)[0];
        Tensor map;
        using (no_grad())
        {
            var weights = gradient.mean([2, 3], keepdim: true);
            var cam = nn.functional.relu((weights * activation).sum(1, keepdim: true));
            map = Scaled(cam, input.shape[2], input.shape[3]);
        }
        return new GradCamResult(map.MoveToOuterDisposeScope(), cls, score.item<float>(), layer ?? $"{model.FeatureInfo[^1].Module} (features)");
    }

    /// <summary>A 1 × 1 × h × w map upsampled (bilinear, align_corners false) to H × W and scaled to [0, 1].</summary>
    static Tensor Scaled(Tensor map, long height, long width)
    {
        using var scope = NewDisposeScope();
        var up = nn.functional.interpolate(map.detach().to_type(ScalarType.Float32), [height, width], mode: InterpolationMode.Bilinear, align_corners: false)[0, 0];
        var low = up.min();
        var range = up.max() - low;
        var scaled = range.item<float>() > 0 ? (up - low) / range : zeros_like(up);
        return scaled.MoveToOuterDisposeScope();
    }

    static void CheckInput(Tensor input)
    {
        if (input.dim() != 4 || input.shape[0] != 1)
            throw new ArgumentException($"activation maps take one image, 1 × C × H × W, not [{string.Join(", ", input.shape)}]", nameof(input));
    }
}
