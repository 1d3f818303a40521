// The recipe "load a checkpoint, drop the classifier, re-save it for PyTorch" in C#:
//   sd = torch.load(path); sd = sd.get('state_dict', sd)
//   sd = {k.removeprefix('module.'): v for k, v in sd.items() if not k.startswith('classifier.')}
//   torch.save(sd, out)
// Usage: DropClassifier [CHECKPOINT [OUT]]. With no checkpoint: torchvision's DenseNet-121 weights from torch hub's
// cache, or fresh DenseNet-121 weights when they were never downloaded. The head is `classifier.*` when the file
// has one, else `fc.*`. Old DenseNet key spellings (norm.1) are renamed, so plain load_state_dict accepts the result.
using Backbones.Models;
using Backbones.Serialization;

string checkpoint = SampleCheckpoint.For("densenet121", args);
string output = args.Length > 1 ? args[1] : Path.Combine(Path.GetTempPath(), "backbones-samples", "densenet121_headless.pth");

using var state = StateDict.Load(checkpoint);
foreach (var (from, to) in state.StripPrefix("module.")) Console.WriteLine($"renamed {from} -> {to}");
if (state.Keys.Any(k => k.StartsWith("features.denseblock", StringComparison.Ordinal)))
{
    using var densenet = ModelZoo.Create("densenet121");
    int renamed = densenet.RemapCheckpointKeys(state).Count;
    if (renamed > 0) Console.WriteLine($"renamed {renamed} old DenseNet key spellings");
}
string head = state.Keys.Any(k => k.StartsWith("classifier.", StringComparison.Ordinal)) ? "classifier.*" : "fc.*";
foreach (var key in state.DropGlob(head)) Console.WriteLine($"dropped {key}");
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
state.Save(output);
Console.WriteLine($"wrote {output}: {state.Count} tensors, {state.CountParameters():N0} parameters");
return 0;
