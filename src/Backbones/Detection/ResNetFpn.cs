using Backbones.Models;
using Backbones.Transfer;

namespace Backbones.Detection;

/// <summary>
/// torchvision's <c>resnet_fpn_backbone</c> and <c>_resnet_fpn_extractor</c>: any ResNet of the zoo (ResNeXt and Wide
/// ResNet included) with FrozenBatchNorm2d, its early layers frozen, and a 256-channel FPN on its stages.
/// </summary>
public static class ResNetFpn
{
    /// <summary>The FPN's width in every torchvision R-CNN.</summary>
    public const long OutChannels = 256;

    static readonly string[] LayersFromTop = ["layer4", "layer3", "layer2", "layer1", "conv1"];

    /// <summary>Builds <paramref name="resnetName"/> (resnet50, resnext101_32x8d, ...) as a detection backbone.</summary>
    public static BackboneWithFpn Create(string resnetName, ResNetFpnOptions? options = null)
    {
        options ??= ResNetFpnOptions.Default;
        Validate(options);
        var family = ModelZoo.All.FirstOrDefault(e => e.Name == resnetName)?.Family;
        if (family != "resnet")
            throw new ArgumentException($"'{resnetName}' is not a ResNet of the zoo; ResNet FPN backbones: {string.Join(", ", ModelZoo.List("res*").Concat(ModelZoo.List("wide_res*")))}", nameof(resnetName));
        var resnet = (ResNet)ModelZoo.Create(resnetName, new ModelOptions
        {
            NormLayer = options.NormLayer ?? (c => new FrozenBatchNorm2d(c)),
            Weights = options.Weights,
            Download = options.Download,
        });
        return Extract(resnet, options);
    }

    /// <summary>
    /// torchvision's <c>_resnet_fpn_extractor</c> on a built (possibly pretrained or modified) ResNet, which it consumes:
    /// the stem and stages up to the last returned layer move into the result's <c>body</c>, the rest is disposed.
    /// <see cref="ResNetFpnOptions.NormLayer"/> and <see cref="ResNetFpnOptions.Weights"/> are the ResNet's already and not used here.
    /// </summary>
    public static BackboneWithFpn Extract(ResNet resnet, ResNetFpnOptions? options = null)
    {
        options ??= ResNetFpnOptions.Default;
        Validate(options);
        var (trainable, frozen, unchanged) = FreezeAllBut(resnet, options.TrainableLayers);
        var returnLayers = options.ReturnedLayers.Select((layer, i) => (Layer: $"layer{layer}", Name: i.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            .ToDictionary(r => r.Layer, r => r.Name, StringComparer.Ordinal);
        var inChannels = options.ReturnedLayers.Select(layer => resnet.FeatureInfo[layer - 1].Channels).ToList();
        var weights = resnet.LoadedWeights;
        try
        {
            var model = new BackboneWithFpn(resnet, returnLayers, inChannels, OutChannels, options.ExtraBlocks?.Invoke(), options.FpnNormLayer);
            // Named as in the result: the head, frozen with the rest as in torchvision, is gone.
            var keys = model.named_parameters().Select(p => p.name).ToHashSet(StringComparer.Ordinal);
            List<string> InBody(List<string> names) => names.Select(n => "body." + n).Where(keys.Contains).ToList();
            string kept = trainable.Count == 0 ? "none" : string.Join(", ", trainable);
            model.Freezing = new FreezeReport($"TrainableLayers({options.TrainableLayers}: {kept} trainable)", InBody(frozen), [], InBody(unchanged), [], [],
                TrainableSummary.Of(model));
            model.BackboneWeights = weights;
            return model;
        }
        finally
        {
            resnet.Dispose();
        }
    }

    static void Validate(ResNetFpnOptions options)
    {
        if (options.TrainableLayers is < 0 or > 5)
            throw new ArgumentOutOfRangeException(nameof(options), options.TrainableLayers, "TrainableLayers must be in 0–5 (layer4, layer3, layer2, layer1, conv1 counted from layer4)");
        if (options.ReturnedLayers.Count == 0 || options.ReturnedLayers.Any(l => l is < 1 or > 4))
            throw new ArgumentOutOfRangeException(nameof(options), $"[{string.Join(", ", options.ReturnedLayers)}]", "each returned layer must be in 1–4 (layer1..layer4), and at least one");
        if (options.ReturnedLayers.Distinct().Count() != options.ReturnedLayers.Count)
            throw new ArgumentException($"returned layers [{string.Join(", ", options.ReturnedLayers)}] repeat a layer", nameof(options));
    }

    /// <summary>torchvision's rule: a parameter trains only if its name starts with one of the trainable layers' names.</summary>
    static (List<string> Trainable, List<string> Frozen, List<string> Unchanged) FreezeAllBut(ResNet resnet, int trainableLayers)
    {
        var trainable = LayersFromTop.Take(trainableLayers).ToList();
        if (trainableLayers == 5) trainable.Add("bn1");
        var frozen = new List<string>();
        var unchanged = new List<string>();
        foreach (var (name, parameter) in resnet.named_parameters())
        {
            if (trainable.Any(layer => name.StartsWith(layer, StringComparison.Ordinal))) continue;
            (parameter.requires_grad ? frozen : unchanged).Add(name);
            parameter.requires_grad = false;
        }
        return (trainable, frozen, unchanged);
    }
}
