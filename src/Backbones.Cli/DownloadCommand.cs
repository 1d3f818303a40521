using System.CommandLine;
using Backbones.Weights;

namespace Backbones.Cli;

/// <summary>
/// <c>backbones download MODEL[:WEIGHTS] [--mirror URL]</c>: fetches official weights into torch hub's cache
/// (or finds them there), with a progress line, resume and hash verification; prints the file's path.
/// </summary>
internal static class DownloadCommand
{
    public static Command Create()
    {
        var spec = new Argument<string>("model") { Description = "MODEL or MODEL:WEIGHTS (resnet50:IMAGENET1K_V2; default weights when omitted)" };
        var mirror = new Option<string?>("--mirror") { Description = $"Base URL serving the files by name instead of the official host (or set {DownloadOptions.MirrorVariable})" };
        var command = new Command("download", "Download official weights into torch hub's cache") { spec, mirror };
        command.SetAction(parsed =>
        {
            string value = parsed.GetValue(spec)!;
            int colon = value.IndexOf(':');
            string model = colon < 0 ? value : value[..colon], name = colon < 0 ? "DEFAULT" : value[(colon + 1)..];
            var weights = WeightsCatalogue.Find(model, name) ?? throw new CliUsageException(
                WeightsCatalogue.For(model).Count == 0
                    ? $"no official weights for '{model}'"
                    : $"'{model}' has no weights set '{name}'; it has {string.Join(", ", WeightsCatalogue.For(model).Select(w => w.Name))}");
            var progress = new ProgressLine(parsed.InvocationConfiguration.Error, weights.FileName);
            string path = WeightsDownloader.Ensure(weights, new DownloadOptions { MirrorBaseUrl = parsed.GetValue(mirror), Progress = progress });
            progress.Finish();
            parsed.InvocationConfiguration.Output.WriteLine(path);
            return BackbonesCli.Success;
        });
        return command;
    }

    /// <summary>One self-overwriting line on standard error: bytes, percentage, rate.</summary>
    sealed class ProgressLine(TextWriter error, string name) : IProgress<DownloadProgress>
    {
        DateTime _last;
        bool _shown;

        public void Report(DownloadProgress p)
        {
            if (DateTime.UtcNow - _last < TimeSpan.FromMilliseconds(200) && p.Received != p.Total) return;
            _last = DateTime.UtcNow;
            _shown = true;
            string total = p.Total is { } t ? $"/{t / 1e6:F1} MB ({100.0 * p.Received / t:F0}%)" : " MB";
            error.Write($"\r{name}  {p.Received / 1e6:F1}{total}  {p.BytesPerSecond / 1e6:F1} MB/s   ");
        }

        public void Finish()
        {
            if (_shown) error.WriteLine();
        }
    }
}
