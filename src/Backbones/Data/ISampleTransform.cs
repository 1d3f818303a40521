using static TorchSharp.torch;

namespace Backbones.Data;

/// <summary>What the <see cref="DataLoader"/> does to each sample: a C×H×W image (uint8, or float in [0, 1]) to the float32
/// model input of <see cref="OutputShape"/>, with any randomness drawn from the sample's own stream.</summary>
public interface ISampleTransform
{
    (int Channels, int Height, int Width) OutputShape { get; }

    Tensor Apply(Tensor image, DeterministicRandom random);
}
