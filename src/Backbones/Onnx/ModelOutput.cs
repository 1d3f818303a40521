namespace Backbones.Onnx;

/// <summary>
/// Where a backbone's forward stops: the logits, the pooled vector entering the last linear layer (an embedding),
/// or the spatial feature map before global pooling.
/// </summary>
public enum ModelOutput
{
    Logits,
    PreLogits,
    Features,
}
