// Recipe: a ResNet whose pooled features pass through a transposed convolution, a max pool and a new classifier:
//   [N, 512, 1, 1] → ConvTranspose2d(512, 256, 4) → [N, 256, 4, 4] → MaxPool2d(2) → [N, 256, 2, 2] → [N, 1024] → Linear → [N, 10]
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

torch.manual_seed(0);
using var resnet = Pretrained.Create("resnet18");
using var net = StageNetwork.From(resnet, "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool")
    .Then("up", ConvTranspose2d(512, 256, 4))
    .Then("pool", MaxPool2d(2))
    .Then("flatten", Flatten())
    .Then("classifier", Linear(1024, 10));
Console.WriteLine(net);

string[] stages = ["avgpool", "up", "pool", "flatten", "classifier"];
using var capture = FeatureCapture.Attach(net, stages);
net.eval();
using (no_grad()) net.call(randn(2, 3, 96, 96)).Dispose();
foreach (var stage in stages) Console.WriteLine($"{stage}: [{string.Join(", ", capture.Outputs[stage].shape)}]");
return 0;
