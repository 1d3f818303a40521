// Recipe: a pretrained ResNet as a backbone that turns images into vectors. In PyTorch:
//   backbone = nn.Sequential(*list(models.resnet18(pretrained=True).children())[:-1])   # [N, 512, 1, 1]
//   vectors = backbone(x).flatten(1)                                                  # [N, 512]
// and the same for ResNet-34/50/101/152 and ResNeXt-101, whose widths differ; then a ResNet-50 with stride 1 in
// its last stage (re-identification's last_stride=1), whose maps are twice as large.
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

torch.manual_seed(0);
using var x = randn(2, 3, 64, 64);
foreach (var name in new[] { "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext101_32x8d" })
{
    using var trunk = BackboneTrunk.Create(Pretrained.Create(name), pooled: true);
    trunk.eval();
    using var _ = inference_mode();
    using var vectors = trunk.call(x);
    Console.WriteLine($"{name} vectors: [{string.Join(", ", vectors.shape)}] (width {trunk.OutChannels}, stride {trunk.Stride})");
}

using var reid = Pretrained.Create("resnet50");
Console.WriteLine(OutputStride.SetLastStride(reid, 1));
using var reidTrunk = BackboneTrunk.Create(reid, pooled: false);
reidTrunk.eval();
using (inference_mode())
using (var maps = reidTrunk.call(x))
    Console.WriteLine($"resnet50 last stride 1 maps: [{string.Join(", ", maps.shape)}] (stride {reidTrunk.Stride})");
return 0;
