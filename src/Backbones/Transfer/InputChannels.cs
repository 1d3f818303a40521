using Backbones.Models;
using Backbones.Serialization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Transfer;

/// <summary>
/// Changes the input channels of a first convolution (gray, RGB + depth, multispectral) keeping what pretrained RGB
/// filters know, by timm's rule (<c>adapt_input_conv</c>): one channel sums the RGB filters; any other count repeats
/// them cyclically (R, G, B, R, ...) and scales by 3/C, so an input whose extra channels are zero gives 3/C of the RGB
/// response. On a model (a new Conv2d with the same geometry) or on a checkpoint's weight before loading.
/// </summary>
public static class InputChannels
{
    /// <summary>Replaces <see cref="Backbone.FirstConvPath"/> with a convolution of <paramref name="channels"/> inputs and adapted weights.</summary>
    public static InputChannelsReport Set(Backbone model, long channels) => Set(model, model.FirstConvPath, channels);

    /// <summary>
    /// Replaces the Conv2d at <paramref name="convPath"/> with one of <paramref name="channels"/> input channels: same
    /// outputs, kernel, stride, padding, dilation, bias, dtype, device, trainability and mode; weights adapted, bias kept.
    /// </summary>
    public static InputChannelsReport Set(nn.Module model, string convPath, long channels)
    {
        if (ModulePaths.Find(model, convPath) is not Conv2d conv)
            throw new ArgumentException($"'{convPath}' is a {ModulePaths.Find(model, convPath).GetType().Name}, not a Conv2d", nameof(convPath));
        if (conv.groups != 1) throw new ArgumentException($"'{convPath}' is a grouped convolution ({conv.groups} groups); only plain first convolutions can be adapted");
        if (conv.padding is null) throw new ArgumentException($"'{convPath}' uses padding mode '{conv.padding_type}'; only explicit padding is supported");
        long from = conv.in_channels;

        using var _ = no_grad();
        var (adapted, rule) = Adapt(conv.weight, channels, convPath);
        using (adapted)
        {
            var k = conv.kernel_size; var s = conv.stride; var p = conv.padding; var d = conv.dilation;
            var fresh = nn.Conv2d(channels, conv.out_channels, (k[0], k[1]), stride: (s[0], s[1]), padding: (p[0], p[1]), dilation: (d[0], d[1]),
                padding_mode: conv.padding_mode, bias: conv.bias is not null, device: conv.weight.device, dtype: conv.weight.dtype);
            fresh.weight.copy_(adapted);
            fresh.weight.requires_grad = conv.weight.requires_grad;
            if (conv.bias is not null)
            {
                fresh.bias!.copy_(conv.bias);
                fresh.bias.requires_grad = conv.bias.requires_grad;
            }
            var replaced = Surgery.ReplaceModule(model, convPath, fresh);
            replaced.Replaced.Dispose();
        }
        return new InputChannelsReport(convPath, from, channels, rule);
    }

    /// <summary>
    /// Adapts the first-convolution weight <paramref name="key"/> of a checkpoint to <paramref name="channels"/> input
    /// channels in place (its position in the dictionary kept), so that RGB weights load into a model built with
    /// <see cref="ModelOptions.InChannels"/>.
    /// </summary>
    public static InputChannelsReport AdaptInputChannels(this StateDict state, string key, long channels)
    {
        if (!state.TryGetValue(key, out var weight))
            throw new KeyNotFoundException($"no key '{key}' in the state dict to adapt to {channels} input channels");
        long from = weight.dim() == 4 ? weight.shape[1] : -1;
        var (adapted, rule) = Adapt(weight, channels, key);
        state.Replace(key, adapted);
        return new InputChannelsReport(key, from, channels, rule);
    }

    /// <summary>timm's <c>adapt_input_conv</c>: the weight [O, I, kH, kW] for <paramref name="channels"/> inputs (computed in float32, returned in the weight's dtype).</summary>
    public static Tensor AdaptWeight(Tensor weight, long channels) => Adapt(weight, channels, "weight").Weight;

    static (Tensor Weight, string Rule) Adapt(Tensor weight, long channels, string what)
    {
        if (weight.dim() != 4) throw new ArgumentException($"'{what}' has shape [{string.Join(", ", weight.shape)}], not a convolution weight [O, I, kH, kW]");
        if (channels < 1) throw new ArgumentOutOfRangeException(nameof(channels), channels, "a convolution needs at least one input channel");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long i = weight.shape[1];
        var w = weight.detach().to_type(ScalarType.Float32);
        Tensor result;
        string rule;
        if (channels == i)
        {
            result = w.clone();
            rule = "unchanged";
        }
        else if (channels == 1 && i == 3)
        {
            result = w.sum(1, keepdim: true);
            rule = "the 3 RGB filters summed";
        }
        else if (i == 3)
        {
            long repeats = (channels + 2) / 3;
            result = w.repeat(1, repeats, 1, 1).narrow(1, 0, channels).mul(3.0 / channels);
            rule = $"the RGB filters repeated cyclically to {channels} and scaled by 3/{channels}";
        }
        else
        {
            throw new ArgumentException($"'{what}' has {i} input channels; adapting to {channels} needs the 3-channel (RGB) weights");
        }
        return (result.to_type(weight.dtype).contiguous().MoveToOuterDisposeScope(), rule);
    }
}

/// <summary>What an input-channel adaptation did: which convolution or key, from and to how many channels, by which rule.</summary>
public sealed record InputChannelsReport(string Target, long From, long To, string Rule)
{
    public override string ToString() => $"{Target}: {From} → {To} input channels ({Rule})";
}
