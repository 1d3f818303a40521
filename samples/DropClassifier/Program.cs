// The recipe "load a checkpoint, keep its state dict, drop the classifier, re-save" in C#:
//   sd = torch.load(path)['state_dict']
//   sd = {k.removeprefix('module.'): v for k, v in sd.items() if not k.startswith('fc.')}
//   torch.save(sd, out)
using Backbones.Serialization;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: DropClassifier CHECKPOINT OUT(.pth|.safetensors)");
    return 2;
}

using var state = StateDict.Load(args[0]);
foreach (var (from, to) in state.StripPrefix("module.")) Console.WriteLine($"renamed {from} -> {to}");
foreach (var key in state.DropGlob("fc.*")) Console.WriteLine($"dropped {key}");
state.Save(args[1]);
Console.WriteLine($"wrote {args[1]}: {state.Count} tensors, {state.CountParameters():N0} parameters");
return 0;
