using Backbones.Data;
using Backbones.Models;
using Backbones.Vision;

namespace Backbones.Demo;

/// <summary>
/// The demo's network and its data transforms: a quarter-width ResNet-10 (torchvision's ResNet with one BasicBlock per
/// stage and 16-32-64-128 channels, about 1.2 MB of weights) on 28×28 grayscale Fashion-MNIST images.
/// </summary>
public static class DemoModel
{
    public const string Architecture = "resnet10_w16";
    public const int ImageSize = 28;

    /// <summary>Fashion-MNIST's training-set mean and standard deviation of pixel values in [0, 1].</summary>
    public static readonly IReadOnlyList<double> Mean = [0.2860], Std = [0.3530];

    public static Backbone Create(int numClasses)
    {
        var model = new ResNet(ResNet.BlockKind.Basic, [1, 1, 1, 1], new ModelOptions { NumClasses = numClasses, InChannels = 1 }, stemWidth: 16);
        model.Architecture = Architecture;
        return model;
    }

    public static ImagePreprocessing Preprocessing { get; } = new() { ResizeSize = ImageSize, CropSize = ImageSize, Mean = Mean, Std = Std };

    /// <summary>Mild augmentation for small gray images: crops of 70–100% of the area, horizontal flips.</summary>
    public static TrainTransform TrainTransform { get; } = new(ImageSize)
    {
        Crop = new RandomResizedCrop(ImageSize) { Scale = (0.7, 1.0) },
        Mean = Mean,
        Std = Std,
        Channels = 1,
    };

    public static EvalTransform EvalTransform { get; } = new(Preprocessing, channels: 1);
}
