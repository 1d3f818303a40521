using Backbones.Init;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision's KeypointRCNNHeads: a Sequential of [3×3 Conv2d, ReLU] pairs (256 → 512 ×8 in Keypoint R-CNN, keys
/// <c>0.weight</c>, <c>2.weight</c> ... <c>14.weight</c>), convolutions Kaiming-normal (fan out, ReLU) with zero bias.
/// </summary>
public sealed class KeypointRcnnHeads : Sequential
{
    public KeypointRcnnHeads(long inChannels, IReadOnlyList<long> layers) : base(Build(inChannels, layers))
    {
        InChannels = inChannels;
        Layers = [.. layers];
    }

    /// <summary>Keypoint R-CNN's head: 8 convolutions of 512 channels.</summary>
    public KeypointRcnnHeads(long inChannels = 256) : this(inChannels, Enumerable.Repeat(512L, 8).ToArray()) { }

    public long InChannels { get; }

    /// <summary>Output channels of each convolution, in order.</summary>
    public IReadOnlyList<long> Layers { get; }

    static nn.Module<Tensor, Tensor>[] Build(long inChannels, IReadOnlyList<long> layers)
    {
        if (layers.Count == 0 || layers.Any(c => c <= 0))
            throw new ArgumentException($"KeypointRcnnHeads: layer widths [{string.Join(", ", layers)}] must be a non-empty list of positive channel counts", nameof(layers));
        var modules = new List<nn.Module<Tensor, Tensor>>();
        long next = inChannels;
        foreach (long outChannels in layers)
        {
            var conv = nn.Conv2d(next, outChannels, 3, stride: 1, padding: 1);
            using (no_grad())
            {
                Initializers.KaimingNormal(conv.weight!, mode: FanMode.FanOut, nonlinearity: "relu");
                Initializers.Zeros(conv.bias!);
            }
            modules.Add(conv);
            // Not in place: Sequential disposes each intermediate output, which an in-place ReLU would share.
            modules.Add(nn.ReLU());
            next = outChannels;
        }
        return [.. modules];
    }
}
