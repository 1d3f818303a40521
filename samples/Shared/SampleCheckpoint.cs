using Backbones.Models;
using Backbones.Serialization;
using Backbones.Transfer;
using Backbones.Weights;

/// <summary>
/// A torchvision checkpoint file for a sample: the path given on the command line, the official file when torch hub's
/// cache has it, or else one written from fresh weights with torchvision's keys (these machines cannot download).
/// </summary>
static class SampleCheckpoint
{
    public static string For(string architecture, string[] args)
    {
        if (args.Length > 0) return args[0];
        var official = WeightsCatalogue.Find(architecture, "DEFAULT");
        if (official is not null && WeightsCache.Contains(official)) return WeightsCache.PathOf(official);
        string path = Path.Combine(Path.GetTempPath(), "backbones-samples", $"{architecture}_fresh.pth");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var model = ModelZoo.Create(architecture);
        using var state = new StateDict();
        foreach (var (key, value) in model.OrderedStateDict()) state.Add(key, value.detach().clone());
        state.Save(path);
        Console.WriteLine($"checkpoint: fresh {architecture} weights ({official?.FileName ?? "no official file"} is not in {WeightsCache.Folder}) written to {path}");
        return path;
    }
}
