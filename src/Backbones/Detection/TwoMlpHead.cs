using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision's TwoMLPHead: the box head of the FPN R-CNNs, two fully connected layers with ReLU (<c>fc6</c>,
/// <c>fc7</c>) on each pooled region flattened (256·7·7 → 1024 → 1024 in Faster and Keypoint R-CNN).
/// </summary>
public sealed class TwoMlpHead : nn.Module<Tensor, Tensor>
{
    readonly Linear fc6;
    readonly Linear fc7;

    public TwoMlpHead(long inChannels, long representationSize) : base(nameof(TwoMlpHead))
    {
        fc6 = nn.Linear(inChannels, representationSize);
        fc7 = nn.Linear(representationSize, representationSize);
        RegisterComponents();
    }

    public long InChannels => fc6.in_features;

    public long RepresentationSize => fc7.out_features;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = nn.functional.relu(fc6.call(x.flatten(1)));
        return nn.functional.relu(fc7.call(x)).MoveToOuterDisposeScope();
    }
}
