// Recipe: a network of your own whose backbone is ResNet-50 without avgpool and fc, under module names that are not
// torchvision's, loaded by position from a torchvision checkpoint; the backbone at learning rate 0, new layers at
// 1e-3 with Adam. In PyTorch:
//   net = Net()   # net.backbone = nn.Sequential(conv1, bn1, relu, maxpool, layer1..4); net.head = ...
//   for (k, v), (_, w) in zip(net.backbone.state_dict().items(), torch.load(path).items()): v.copy_(w)
//   opt = Adam([{'params': net.backbone.parameters(), 'lr': 0}, {'params': net.head.parameters()}], lr=1e-3)
// Usage: BackboneByPosition [RESNET50_CHECKPOINT]
using Backbones.Models;
using Backbones.Runtime;
using Backbones.Serialization;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

torch.manual_seed(0);
string path = SampleCheckpoint.For("resnet50", args);
using var resnet = ModelZoo.Create("resnet50");
var trunk = resnet.named_children().Where(c => c.name is not ("avgpool" or "fc")).Select((c, i) => ($"stage{i}", (nn.Module<Tensor, Tensor>)c.module));
using var net = nn.Sequential(
    ("backbone", nn.Sequential(trunk)),
    ("head", nn.Sequential(nn.Conv2d(2048, 256, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 5))));

using var checkpoint = StateDict.Load(path);
string lastBackboneKey = net.OrderedStateDict().Last(kv => kv.Key.StartsWith("backbone.", StringComparison.Ordinal)).Key;
var report = net.LoadStateDict(checkpoint, new LoadOptions { ByPosition = new PositionalPairing { UpToKey = lastBackboneKey } });
report.WriteTable(Console.Out);
Console.WriteLine($"first pair: {report.Loaded[0]} <- {report.Sources[report.Loaded[0]]}");
double worst = report.Loaded.Max(key =>
{
    using var difference = (net.OrderedStateDict().First(kv => kv.Key == key).Value.to_type(ScalarType.Float64) - checkpoint[report.Sources[key]].to_type(ScalarType.Float64)).abs().max();
    return difference.item<double>();
});
Console.WriteLine($"max |loaded - checkpoint|: {worst}");

var groups = ParameterGroups.For(net).Add("backbone", "backbone", lr: 0).Add("head", "head").Build(lr: 1e-3);
Console.WriteLine(groups);
var before = net.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
using (var adam = optim.Adam(groups.ToAdam(), groups.LearningRate))
using (OneDnn.GuardBackward(net)) // libtorch 2.10's oneDNN can crash planning ResNet-50's strided 1×1 backward on some CPUs
{
    net.train();
    using var x = randn(2, 3, 64, 64);
    using var labels = tensor(new long[] { 1, 3 });
    adam.zero_grad();
    using var loss = nn.functional.cross_entropy(net.call(x), labels);
    loss.backward();
    adam.step();
}
int Changed(string prefix) => net.named_parameters().Count(p => p.name.StartsWith(prefix, StringComparison.Ordinal) && !p.parameter.eq(before[p.name]).all().item<bool>());
int Count(string prefix) => before.Keys.Count(k => k.StartsWith(prefix, StringComparison.Ordinal));
Console.WriteLine($"backbone tensors changed: {Changed("backbone.")} of {Count("backbone.")}");
Console.WriteLine($"head tensors changed: {Changed("head.")} of {Count("head.")}");
return 0;
