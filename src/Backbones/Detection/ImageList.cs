using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision's <c>ImageList</c>: images of different sizes batched into one zero-padded tensor (N×C×H×W, H and W
/// multiples of the transform's size_divisible), with each image's size before padding. Owns the tensor.
/// </summary>
public sealed class ImageList : IDisposable
{
    public ImageList(Tensor tensors, IReadOnlyList<(long Height, long Width)> imageSizes)
    {
        if (tensors.dim() != 4 || tensors.shape[0] != imageSizes.Count)
            throw new ArgumentException($"ImageList needs an N×C×H×W tensor with one size per image; got [{string.Join(", ", tensors.shape)}] and {imageSizes.Count} sizes");
        Tensors = tensors;
        ImageSizes = imageSizes;
    }

    /// <summary>The padded batch.</summary>
    public Tensor Tensors { get; }

    /// <summary>Each image's height and width inside the batch (after resizing, before padding).</summary>
    public IReadOnlyList<(long Height, long Width)> ImageSizes { get; }

    /// <summary>A copy on <paramref name="device"/> (the sizes are shared).</summary>
    public ImageList To(Device device) => new(Tensors.to(device), ImageSizes);

    public void Dispose() => Tensors.Dispose();
}
