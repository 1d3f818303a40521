using Backbones.Models;
using Backbones.Weights;

/// <summary>
/// A zoo model with its official ImageNet weights when torch hub's cache has them, else with fresh weights (these
/// machines cannot download), saying which, so every sample runs with no arguments anywhere.
/// </summary>
static class Pretrained
{
    public static Backbone Create(string architecture, ModelOptions? options = null)
    {
        options ??= ModelOptions.Default;
        var official = WeightsCatalogue.Find(architecture, "DEFAULT");
        if (official is not null && WeightsCache.Contains(official))
        {
            var model = ModelZoo.Create(architecture, options with { Weights = official.Name });
            Console.WriteLine($"weights: {official.FileName} ({model.LoadedWeights})");
            return model;
        }
        Console.WriteLine($"weights: fresh {architecture} ({official?.FileName ?? "no official weights"} is not in {WeightsCache.Folder})");
        return ModelZoo.Create(architecture, options);
    }
}
