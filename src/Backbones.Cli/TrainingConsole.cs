using System.Globalization;
using Backbones.Training;

namespace Backbones.Cli;

/// <summary>
/// A run as the terminal shows it: a self-overwriting progress bar per epoch on standard error (steps, running loss and
/// accuracy, images/s), then one line per epoch on standard output with validation and each group's learning rate.
/// </summary>
internal sealed class TrainingConsole(TextWriter output, TextWriter error, string? prefix = null) : IFineTuneObserver
{
    const int Width = 24;
    bool _bar;
    DateTime _last;

    string Prefix => prefix is null ? "" : prefix + " ";

    public void OnStep(StepProgress p)
    {
        if (DateTime.UtcNow - _last < TimeSpan.FromMilliseconds(250) && p.Step != p.Steps) return;
        _last = DateTime.UtcNow;
        _bar = true;
        int filled = (int)((long)Width * p.Step / p.Steps);
        error.Write(string.Create(CultureInfo.InvariantCulture,
            $"\r{Prefix}epoch {p.Epoch}/{p.Epochs} [{new string('#', filled)}{new string('-', Width - filled)}] {p.Step}/{p.Steps}  loss {p.Loss:F4}  acc {p.Accuracy * 100:F1}%  {p.ImagesPerSecond:F0} images/s   "));
    }

    public void OnEpoch(EpochMetrics m, bool best)
    {
        EndBar();
        string rates = string.Join(", ", m.LearningRates.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:G4}")));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Prefix}epoch {m.Epoch}: train loss {m.TrainLoss:F4} acc {m.TrainAccuracy * 100:F2}% | val loss {m.ValidationLoss:F4} acc {m.ValidationAccuracy * 100:F2}% top-5 {m.ValidationTop5 * 100:F2}% | lr {rates} | {m.ImagesPerSecond:F0} images/s{(best ? " | best" : "")}"));
    }

    public void OnMessage(string message)
    {
        EndBar();
        output.WriteLine(Prefix + message);
    }

    void EndBar()
    {
        if (!_bar) return;
        error.WriteLine();
        _bar = false;
    }

    /// <summary>A token that Ctrl-C cancels instead of killing the process, so the run finishes its step and saves.</summary>
    public static CancellationTokenSource CancelOnCtrlC(TextWriter error)
    {
        var source = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            if (source.IsCancellationRequested) return; // a second Ctrl-C ends the process
            e.Cancel = true;
            error.WriteLine("\nstopping after this step; writing a checkpoint (Ctrl-C again to kill)");
            source.Cancel();
        };
        return source;
    }
}
