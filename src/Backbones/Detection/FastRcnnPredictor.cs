using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision's FastRCNNPredictor: per region, class logits (<c>cls_score</c>, background included) and one box
/// regression per class (<c>bbox_pred</c>, 4·classes); Keypoint R-CNN has 2 classes, background and person.
/// </summary>
public sealed class FastRcnnPredictor : nn.Module<Tensor, (Tensor ClassLogits, Tensor BoxRegression)>
{
    readonly Linear cls_score;
    readonly Linear bbox_pred;

    public FastRcnnPredictor(long inChannels, long numClasses) : base(nameof(FastRcnnPredictor))
    {
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "FastRcnnPredictor needs at least one class (the background)");
        cls_score = nn.Linear(inChannels, numClasses);
        bbox_pred = nn.Linear(inChannels, numClasses * 4);
        RegisterComponents();
    }

    public long NumClasses => cls_score.out_features;

    public override (Tensor ClassLogits, Tensor BoxRegression) forward(Tensor x)
    {
        if (x.dim() == 4 && (x.shape[2] != 1 || x.shape[3] != 1))
            throw new ArgumentException($"FastRcnnPredictor: input has shape [{string.Join(", ", x.shape)}]; a 4-d input must be [N, C, 1, 1]", nameof(x));
        using var scope = NewDisposeScope();
        x = x.flatten(1);
        return (cls_score.call(x).MoveToOuterDisposeScope(), bbox_pred.call(x).MoveToOuterDisposeScope());
    }
}
