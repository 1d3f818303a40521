using Backbones.Models;
using static TorchSharp.torch;

namespace Backbones.Vision;

/// <summary>What <see cref="ActivationMapImages"/> wrote: one PNG per layer, and for Grad-CAM the class explained.</summary>
public sealed record ActivationMapReport(string Image, IReadOnlyList<(string Layer, string File)> Written, int? Class = null, string? Label = null, double? Score = null)
{
    public override string ToString() =>
        (Class is { } c ? $"{Image}: Grad-CAM of class {c} ({Label}, logit {Score:F3})\n" : $"{Image}:\n") +
        string.Join("\n", Written.Select(w => $"  {w.Layer} -> {w.File}"));
}

/// <summary>
/// Activation maps of one image file as PNGs over the picture the model sees (the resized, center-cropped image):
/// each layer's channel mean, or Grad-CAM, coloured with JET and blended 0.6 image + 0.4 colour (<see cref="Heatmap"/>).
/// </summary>
public static class ActivationMapImages
{
    /// <summary>One PNG per layer (by default every convolution), named <c>NN-LAYER.png</c> in layer order.</summary>
    public static ActivationMapReport WriteChannelMeans(nn.Module<Tensor, Tensor> model, string image, ImagePreprocessing preprocessing, string folder,
        IReadOnlyList<string>? layers = null)
    {
        layers ??= ActivationMaps.Convolutions(model);
        if (layers.Count == 0) throw new ArgumentException("the model has no convolutions; name the layers to show");
        using var scope = NewDisposeScope();
        var (view, input) = Prepare(image, preprocessing);
        var maps = ActivationMaps.ChannelMeans(model, input, layers);
        Directory.CreateDirectory(folder);
        var written = new List<(string, string)>();
        int index = 0;
        foreach (var layer in layers)
        {
            string file = Path.Combine(folder, $"{index++:D2}-{layer}.png");
            Heatmap.WritePng(file, Heatmap.Overlay(view, maps[layer]), (int)view.shape[2], (int)view.shape[1]);
            written.Add((layer, file));
        }
        foreach (var map in maps.Values) map.Dispose();
        return new ActivationMapReport(image, written);
    }

    /// <summary>Grad-CAM of <paramref name="targetClass"/> (default: the top class) at <paramref name="layer"/> (default: the last stage), as <c>gradcam-CLASS.png</c>.</summary>
    public static ActivationMapReport WriteGradCam(Backbone model, string image, ImagePreprocessing preprocessing, string folder,
        IReadOnlyList<string> labels, int? targetClass = null, string? layer = null)
    {
        using var scope = NewDisposeScope();
        var (view, input) = Prepare(image, preprocessing);
        using var cam = ActivationMaps.GradCam(model, input, targetClass, layer);
        Directory.CreateDirectory(folder);
        string file = Path.Combine(folder, $"gradcam-{cam.Class}{(layer is null ? "" : "-" + layer)}.png");
        Heatmap.WritePng(file, Heatmap.Overlay(view, cam.Map), (int)view.shape[2], (int)view.shape[1]);
        return new ActivationMapReport(image, [(cam.Layer, file)], cam.Class, cam.Class < labels.Count ? labels[cam.Class] : null, cam.Score);
    }

    /// <summary>The picture the model sees (3 × crop × crop, uint8) and the model's input (1 × 3 × crop × crop, normalised).</summary>
    static (Tensor View, Tensor Input) Prepare(string image, ImagePreprocessing p)
    {
        using var decoded = ImageDecoder.Decode(image).ToTensor();
        var view = ImageTransforms.CenterCrop(ImageTransforms.Resize(decoded, p.ResizeSize, p.Interpolation, p.Antialias), p.CropSize, p.CropSize);
        var input = ImageTransforms.Normalize(ImageTransforms.ToFloat(view), p.Mean, p.Std).unsqueeze(0);
        // A 16-bit image's view is float in [0, 1]: shown as 8 bits.
        if (view.is_floating_point()) view = view.mul(255).round_().clamp_(0, 255).to_type(ScalarType.Byte);
        return (view.contiguous(), input);
    }
}
