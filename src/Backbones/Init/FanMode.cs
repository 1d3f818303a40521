namespace Backbones.Init;

/// <summary>
/// Which fan a Kaiming initialiser scales by: fan-in keeps the forward activations' variance, fan-out the backward
/// gradients' (PyTorch's <c>mode='fan_in'</c> / <c>'fan_out'</c>).
/// </summary>
public enum FanMode
{
    FanIn,
    FanOut,
}
