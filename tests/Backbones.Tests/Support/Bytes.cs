using static TorchSharp.torch;

namespace Backbones.Tests.Support;

/// <summary>A tensor's values as raw little-endian bytes in C order, to compare bit for bit.</summary>
public static class Bytes
{
    public static byte[] Of(Tensor t)
    {
        using var c = t.contiguous();
        return c.NumberOfElements == 0 ? [] : c.bytes.ToArray();
    }
}
