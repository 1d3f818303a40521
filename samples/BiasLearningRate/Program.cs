// Recipe (the Caffe convention): biases at twice the base learning rate and without weight decay, weights with
// decay, under Adam. In PyTorch:
//   biases  = [p for n, p in model.named_parameters() if n.endswith('bias')]
//   weights = [p for n, p in model.named_parameters() if not n.endswith('bias')]
//   opt = Adam([{'params': weights, 'weight_decay': 5e-4}, {'params': biases, 'lr': 2 * lr, 'weight_decay': 0}], lr=lr)
// Adam's first step moves every element by about lr × sign(gradient), so the step sizes show each group's rate.
using Backbones.Models;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

const double lr = 1e-4, decay = 5e-4;
torch.manual_seed(0);
using var model = Pretrained.Create("alexnet", new ModelOptions { NumClasses = 10 });
var groups = ParameterGroups.For(model).Add("biases", "*.bias", lr: 2 * lr, weightDecay: 0).Add("weights", "*", weightDecay: decay).Build(lr);
Console.WriteLine(groups);

var before = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
using (var adam = optim.Adam(groups.ToAdam(), groups.LearningRate))
{
    model.train();
    using var x = randn(4, 3, 64, 64);
    using var labels = randint(0, 10, [4]);
    adam.zero_grad();
    using var loss = nn.functional.cross_entropy(model.call(x), labels);
    loss.backward();
    adam.step();
}

foreach (var group in groups.Groups)
{
    // Median over the group's elements of |step| / lr: 1 for weights, 2 for biases.
    using var steps = cat(group.Parameters.Select(p => (p.Parameter - before[p.Name]).abs().flatten()).ToList());
    double median = steps.median().item<float>() / lr;
    Console.WriteLine($"{group.Name} median step / lr: {median:F4}");
    Console.WriteLine($"{group.Name} weight decay: {group.WeightDecay:G3}");
}
return 0;
