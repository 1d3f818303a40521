// Recipe: a YOLO-v1-style detector on ResNet-50: its stages, three dilated bottleneck blocks, average pooling and a
// 3×3 convolution to 30 channels (2 boxes × 5 + 20 classes per cell), output [N, 7, 7, 30] for 448×448 images;
// backbone weights from a torchvision checkpoint, the first 100 parameter tensors frozen.
// Usage: YoloV1Detector [RESNET50_CHECKPOINT]
using Backbones.Models.Layers;
using Backbones.Models;
using Backbones.Serialization;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

torch.manual_seed(0);
string path = SampleCheckpoint.For("resnet50", args);
using var resnet = ModelZoo.Create("resnet50");
using var yolo = StageNetwork.From(resnet, "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
    .Then("layer5", Sequential(Enumerable.Range(0, 3).Select(_ => (Module<Tensor, Tensor>)new ResNet.Bottleneck(2048, 512, 1, null, 1, 64, dilation: 2))))
    .Then("avgpool", AvgPool2d(2))
    .Then("conv_end", Conv2d(2048, 30, 3, padding: 1))
    .Then("permute", new Permute(0, 2, 3, 1));
Console.WriteLine(yolo);

using var checkpoint = StateDict.Load(path);
var report = yolo.LoadStateDict(checkpoint, strict: false);
Console.WriteLine($"load: {report.Summary}");
Console.WriteLine($"unexpected: {string.Join(", ", report.Unexpected)}");
var frozen = yolo.FreezeFirstParameters(100);
Console.WriteLine(frozen);
Console.WriteLine($"last frozen: {frozen.Frozen[^1]}");

yolo.eval();
using var _ = no_grad();
using var output = yolo.call(randn(1, 3, 448, 448));
Console.WriteLine($"output: [{string.Join(", ", output.shape)}]");
return 0;
