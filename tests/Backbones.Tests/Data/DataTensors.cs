using Backbones.Data;
using Backbones.Tests.Support;
using static TorchSharp.torch;

namespace Backbones.Tests.Data;

/// <summary>Test images for the data tests, and bit-for-bit comparison of tensors.</summary>
internal static class DataTensors
{
    /// <summary>Same dtype, same shape, same bits.</summary>
    public static bool Identical(Tensor a, Tensor b) =>
        a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && Bytes.Of(a).AsSpan().SequenceEqual(Bytes.Of(b));

    /// <summary>Uniform noise in [0, 1] from our own generator; with <paramref name="quantizeHalf"/>, half the pixels
    /// snapped to eighths, so channels tie and gray pixels occur (the branches of the HSV conversion).</summary>
    public static Tensor Noise(int channels, int height, int width, ulong seed, bool quantizeHalf = false)
    {
        var random = new DeterministicRandom(seed);
        var values = new float[channels * height * width];
        for (int i = 0; i < values.Length; i++) values[i] = random.NextSingle();
        if (quantizeHalf)
        {
            int plane = height * width;
            for (int p = 0; p < plane; p += 2)
            {
                float gray = random.NextInt(9) / 8f;
                for (int c = 0; c < channels; c++)
                    values[c * plane + p] = p % 4 == 0 ? gray : MathF.Round(values[c * plane + p] * 8) / 8;
            }
        }
        return tensor(values, [channels, height, width]);
    }

    /// <summary><see cref="Noise"/> as uint8.</summary>
    public static Tensor NoiseBytes(int channels, int height, int width, ulong seed)
    {
        using var noise = Noise(channels, height, width, seed);
        using var scaled = noise.mul(255);
        using var rounded = scaled.round();
        return rounded.to_type(ScalarType.Byte);
    }
}
