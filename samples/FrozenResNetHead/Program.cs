// Recipe: freeze a pretrained ResNet-18, put a new 100-class head on it and train only the head; then train the
// convolutions too, at a tenth of the head's learning rate. In PyTorch:
//   for p in model.parameters(): p.requires_grad = False
//   model.fc = nn.Linear(512, 100)
//   opt = SGD(model.fc.parameters(), lr=1e-2, momentum=0.9)
//   ...
//   for p in model.parameters(): p.requires_grad = True
//   opt = SGD([{'params': backbone, 'lr': 1e-3}, {'params': model.fc.parameters(), 'lr': 1e-2}], momentum=0.9)
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

torch.manual_seed(0);
using var model = Pretrained.Create("resnet18");
Console.WriteLine(model.Freeze("*"));
model.ResetClassifier(100);
Console.WriteLine($"after the new head: {TrainableSummary.Of(model)}");

// Phase 1: the head alone.
var headOnly = ParameterGroups.For(model).Build(lr: 1e-2);
Console.WriteLine(headOnly);
var frozen = Snapshot(model, trainable: false);
var head = Snapshot(model, trainable: true);
using (var sgd = optim.SGD(headOnly.ToSgd(), headOnly.LearningRate, momentum: 0.9))
    for (int step = 0; step < 2; step++) Step(model, sgd);
Console.WriteLine($"phase 1 frozen tensors changed: {frozen.Count(kv => !Unchanged(model, kv.Key, kv.Value))} of {frozen.Count}");
Console.WriteLine($"phase 1 head tensors changed: {head.Count(kv => !Unchanged(model, kv.Key, kv.Value))} of {head.Count}");

// Phase 2: everything, the backbone at 1e-3 and the head at 1e-2. One step: SGD's first update is lr × gradient.
model.Unfreeze("*");
var groups = ParameterGroups.For(model).Add("head", "fc", lr: 1e-2).Add("backbone", "*", lr: 1e-3).Build(lr: 1e-3);
Console.WriteLine(groups);
var before = Snapshot(model, trainable: true);
using (var sgd = optim.SGD(groups.ToSgd(), groups.LearningRate, momentum: 0.9))
{
    var gradients = Step(model, sgd);
    foreach (var group in groups.Groups)
    {
        double worst = group.Parameters.Max(p =>
        {
            using var expected = before[p.Name] - group.LearningRate * gradients[p.Name];
            return (p.Parameter - expected).abs().max().item<float>();
        });
        Console.WriteLine($"phase 2 {group.Name} max |update - lr x gradient|: {worst:G3} (lr {group.LearningRate:G3})");
    }
}
return 0;

static Dictionary<string, Tensor> Snapshot(nn.Module model, bool trainable) =>
    model.named_parameters().Where(p => p.parameter.requires_grad == trainable).ToDictionary(p => p.name, p => p.parameter.detach().clone());

static bool Unchanged(nn.Module model, string key, Tensor value) =>
    model.named_parameters().First(p => p.name == key).parameter.eq(value).all().item<bool>();

/// <summary>One SGD step of cross-entropy on a random batch; returns each trainable parameter's gradient.</summary>
static Dictionary<string, Tensor> Step(Backbones.Models.Backbone model, optim.Optimizer optimizer)
{
    model.train();
    using var x = randn(4, 3, 64, 64);
    using var labels = randint(0, model.NumClasses, [4]);
    optimizer.zero_grad();
    using var loss = nn.functional.cross_entropy(model.call(x), labels);
    loss.backward();
    var gradients = model.named_parameters().Where(p => p.parameter.grad is not null).ToDictionary(p => p.name, p => p.parameter.grad!.clone());
    optimizer.step();
    return gradients;
}
