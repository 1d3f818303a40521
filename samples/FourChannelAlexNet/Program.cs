// Recipe: a pretrained AlexNet for 4-channel images (RGB + near infrared, RGB + depth) and 10 classes, the first
// convolution's weights adapted by timm's rule (RGB filters repeated, scaled by 3/4). In PyTorch:
//   w = model.features[0].weight                       # [64, 3, 11, 11]
//   model.features[0] = nn.Conv2d(4, 64, 11, 4, 2); model.features[0].weight.data = w.repeat(1, 2, 1, 1)[:, :4] * 3 / 4
//   model.classifier[6] = nn.Linear(4096, 10)
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

torch.manual_seed(0);
using var model = Pretrained.Create("alexnet");
model.eval();
using var rgb = randn(2, 3, 96, 96);
using var _ = no_grad();
var firstConv = (nn.Module<Tensor, Tensor>)model.named_modules().First(m => m.name == model.FirstConvPath).module;
using var bias = ((TorchSharp.Modules.Conv2d)firstConv).bias!.detach().clone().view(1, -1, 1, 1);
using var rgbResponse = firstConv.call(rgb) - bias;

Console.WriteLine(InputChannels.Set(model, 4));
Console.WriteLine(Surgery.ReplaceClassifier(model, 10));
firstConv = (nn.Module<Tensor, Tensor>)model.named_modules().First(m => m.name == model.FirstConvPath).module;

// An input whose 4th channel is zero: the first convolution's response is 3/4 of the RGB model's.
using var padded = cat([rgb, zeros(2, 1, 96, 96)], 1);
using var response = firstConv.call(padded) - bias;
using var ratio = (response - 0.75 * rgbResponse).norm() / (0.75 * rgbResponse).norm();
Console.WriteLine($"first conv relative L2 to 3/4 of the RGB response: {ratio.item<float>():G3}");
using var logits = model.call(padded);
Console.WriteLine($"logits: [{string.Join(", ", logits.shape)}]");
return 0;
