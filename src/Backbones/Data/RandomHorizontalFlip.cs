using static TorchSharp.torch;

namespace Backbones.Data;

/// <summary>torchvision's <c>RandomHorizontalFlip</c>: mirrors the image left to right with probability <see cref="P"/>.</summary>
public sealed record RandomHorizontalFlip(double P = 0.5)
{
    /// <summary>Whether to flip: one uniform draw below <see cref="P"/>, as <c>torch.rand(1) &lt; p</c>.</summary>
    public bool Sample(DeterministicRandom random) => random.NextSingle() < P;

    public Tensor Apply(Tensor image, bool flip) => flip ? ImageAugment.HorizontalFlip(image) : image.alias();

    public override string ToString() => $"RandomHorizontalFlip(p={P})";
}
