using System.Text.RegularExpressions;
using Backbones.Runtime;

namespace Backbones.Models;

/// <summary>
/// The registry of architectures, filled once from each family's list: build a model by torchvision's name,
/// list names with wildcards (<c>resnet*</c>).
/// </summary>
public static class ModelZoo
{
    /// <summary>One buildable architecture.</summary>
    public sealed record Entry(string Name, string Family, Func<ModelOptions, Backbone> Build);

    static readonly Lazy<IReadOnlyDictionary<string, Entry>> Entries = new(Fill);

    static IReadOnlyDictionary<string, Entry> Fill()
    {
        var all = new Dictionary<string, Entry>(StringComparer.Ordinal);
        IEnumerable<Entry>[] families =
        [
            ResNet.Variants,
            DenseNet.Variants,
            MobileNetV2.Variants,
            MobileNetV3.Variants,
            Vgg.Variants,
            AlexNet.Variants,
            SqueezeNet.Variants,
            EfficientNet.Variants,
            ConvNeXt.Variants,
        ];
        foreach (var entry in families.SelectMany(f => f))
            if (!all.TryAdd(entry.Name, entry)) throw new InvalidOperationException($"model '{entry.Name}' registered twice");
        return all;
    }

    public static IReadOnlyCollection<Entry> All => Entries.Value.Values.ToList();

    /// <summary>Names matching a glob (<c>*</c>, <c>?</c>), sorted.</summary>
    public static IReadOnlyList<string> List(string pattern = "*")
    {
        var regex = new Regex("^" + Regex.Escape(pattern).Replace(@"\*", ".*").Replace(@"\?", ".") + "$");
        return Entries.Value.Keys.Where(k => regex.IsMatch(k)).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// Builds <paramref name="name"/> with weights initialised as torchvision does, then loads
    /// <see cref="ModelOptions.Weights"/> if given (see <see cref="Backbone.LoadedWeights"/> for what was loaded).
    /// </summary>
    public static Backbone Create(string name, ModelOptions? options = null)
    {
        Libtorch.EnsureLoaded();
        if (!Entries.Value.TryGetValue(name, out var entry))
            throw new ArgumentException($"unknown model '{name}'; known: {string.Join(", ", List())}", nameof(name));
        options ??= ModelOptions.Default;
        if (options.NormLayer is not null && entry.Family != "resnet")
            throw new ArgumentException($"ModelOptions.NormLayer applies to the ResNet family (resnet*, resnext*, wide_resnet*), not {name}", nameof(options));
        var model = entry.Build(options);
        model.Architecture = name;
        if (options.Weights is { } weights)
        {
            try
            {
                model.LoadedWeights = Transfer.PretrainedWeights.Load(model, weights, options.Download);
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        return model;
    }
}
