using System.Globalization;
using System.Text;
using Backbones.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Transfer;

/// <summary>
/// Every parameter of a model assigned to a depth stage, stem to head, as timm's group matchers do for layer-wise
/// learning-rate decay; derived from the backbone contract (feature modules in order, classifier path).
/// </summary>
/// <remarks>
/// With feature modules F1..FK in forward order: the stem (0) is every parameter registered before F1; stage i is
/// Fi's parameters and those between F(i-1) and Fi (a DenseNet transition, a ConvNeXt downsampling layer); the
/// head (K+1) is the classifier and everything after FK. Stages left empty (VGG's features are parameterless
/// max-pools, so the first holds nothing) are dropped and the rest renumbered, so indices run 0..Count-1.
/// </remarks>
public sealed class StageGroups
{
    public sealed record Stage(int Index, string Name, IReadOnlyList<string> Parameters);

    readonly Dictionary<string, int> _index;

    StageGroups(List<Stage> stages)
    {
        Stages = stages;
        _index = stages.SelectMany(s => s.Parameters.Select(p => (p, s.Index))).ToDictionary(x => x.p, x => x.Index, StringComparer.Ordinal);
    }

    /// <summary>The non-empty stages, stem first, head last.</summary>
    public IReadOnlyList<Stage> Stages { get; }

    /// <summary>The head's index, the exponent layer decay counts down from.</summary>
    public int HeadIndex => Stages.Count - 1;

    /// <summary>The stage of parameter <paramref name="name"/> (a state-dict key).</summary>
    public int IndexOf(string name) =>
        _index.TryGetValue(name, out int i) ? i : throw new KeyNotFoundException($"'{name}' is not a parameter of the staged model");

    /// <summary>Stages of a zoo model: its <see cref="Backbone.FeatureInfo"/> modules, then its classifier.</summary>
    public static StageGroups Of(Backbone model) =>
        Of(model, model.FeatureInfo.Select(f => f.Module).ToList(), model.ClassifierPath);

    /// <summary>Stages ending at <paramref name="stageModules"/> (module paths in forward order); <paramref name="headModule"/> is always head.</summary>
    public static StageGroups Of(nn.Module model, IReadOnlyList<string> stageModules, string? headModule = null)
    {
        if (stageModules.Count == 0) throw new ArgumentException("at least one stage module is needed", nameof(stageModules));
        var position = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < stageModules.Count; i++)
            if (!position.TryAdd(stageModules[i], i)) throw new ArgumentException($"stage module '{stageModules[i]}' is given twice", nameof(stageModules));

        int head = stageModules.Count + 1;
        var members = Enumerable.Range(0, head + 1).Select(_ => new List<string>()).ToArray();
        int reached = 0, outside = 0;   // stage modules met so far; the stage of parameters outside them
        var skipUnder = (string?)null;  // the stage module whose subtree is already assigned
        foreach (var (path, module) in ModuleWalk.Modules(model))
        {
            if (skipUnder is not null && ModuleWalk.IsUnder(path, skipUnder)) continue;
            skipUnder = null;
            if (path.Length > 0 && position.TryGetValue(path, out int i))
            {
                if (i != reached)
                    throw new ArgumentException($"stage module '{path}' comes before '{stageModules[reached]}' in {model.GetName()}; give them in forward order");
                foreach (var (name, _) in ModuleWalk.Parameters(module, path))
                    members[IsHead(name) ? head : i + 1].Add(name);
                reached = i + 1;
                outside = i + 2;
                skipUnder = path;
                continue;
            }
            foreach (var (name, _) in module.named_parameters(recurse: false))
            {
                string key = ModuleWalk.Join(path, name);
                members[IsHead(key) ? head : outside].Add(key);
            }
        }
        if (reached < stageModules.Count)
            throw new ArgumentException($"no module '{stageModules[reached]}' in {model.GetName()}; top-level modules: {ModuleWalk.TopLevel(model)}", nameof(stageModules));
        if (headModule is not null && !ModuleWalk.Modules(model).Any(m => m.Path == headModule))
            throw new ArgumentException($"no head module '{headModule}' in {model.GetName()}", nameof(headModule));

        var stages = new List<Stage>();
        for (int s = 0; s <= head; s++)
        {
            if (members[s].Count == 0) continue;
            string name = s == 0 ? "stem" : s == head ? "head" : stageModules[s - 1];
            stages.Add(new Stage(stages.Count, name, members[s]));
        }
        return new StageGroups(stages);

        bool IsHead(string key) => headModule is not null && ModuleWalk.IsUnder(key, headModule);
    }

    public override string ToString()
    {
        var text = new StringBuilder();
        foreach (var s in Stages)
            text.AppendLine(string.Format(CultureInfo.InvariantCulture, "{0,2} {1,-24} {2,4} tensors  {3} .. {4}",
                s.Index, s.Name, s.Parameters.Count, s.Parameters[0], s.Parameters[^1]));
        return text.ToString().TrimEnd();
    }
}
