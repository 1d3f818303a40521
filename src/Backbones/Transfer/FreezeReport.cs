using System.Text;

namespace Backbones.Transfer;

/// <summary>
/// What a freeze or unfreeze did: parameters whose <c>requires_grad</c> it switched, those it matched that were
/// already so, BatchNorms it put into or released from held eval mode, and the model's trainable counts after.
/// </summary>
public sealed record FreezeReport(
    string Operation,
    IReadOnlyList<string> Frozen,
    IReadOnlyList<string> Unfrozen,
    IReadOnlyList<string> Unchanged,
    IReadOnlyList<string> BatchNormsHeld,
    IReadOnlyList<string> BatchNormsReleased,
    TrainableSummary Trainable)
{
    public override string ToString()
    {
        var text = new StringBuilder(Operation).Append(':');
        bool any = false;
        void Part(string verb, IReadOnlyList<string> names, string what)
        {
            if (names.Count == 0) return;
            text.Append(any ? "; " : " ").Append(verb).Append(' ').Append(names.Count).Append(' ').Append(what)
                .Append(" (").Append(string.Join(", ", names.Take(6))).Append(names.Count > 6 ? $", ... {names.Count - 6} more)" : ")");
            any = true;
        }
        Part("froze", Frozen, "tensors");
        Part("unfroze", Unfrozen, "tensors");
        Part("held", BatchNormsHeld, "BatchNorms in eval mode");
        Part("released", BatchNormsReleased, "BatchNorms");
        if (Unchanged.Count > 0) { text.Append(any ? "; " : " ").Append(Unchanged.Count).Append(" matched tensors already in that state"); any = true; }
        if (!any) text.Append(" nothing changed");
        return text.Append('\n').Append(Trainable).ToString();
    }
}
