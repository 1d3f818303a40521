using System.CommandLine;
using Backbones.Vision;

namespace Backbones.Cli;

/// <summary>
/// <c>backbones embed MODEL [--weights W] DIR_OR_LIST -o OUT [--layer avgpool] [--batch 32]</c>: one feature vector per
/// image into .safetensors, .npy or .csv, with the image paths in a stable order; a progress bar with images/s on
/// standard error; unreadable images listed and skipped; a re-run after an interruption embeds only what is missing.
/// </summary>
internal static class EmbedCommand
{
    public static Command Create()
    {
        var common = new ImageModelOptions();
        var source = new Argument<string>("images") { Description = "A folder (searched recursively, sorted by path) or a text file listing images one a line" };
        var output = new Option<string>("--output", "-o") { Description = "Vectors to write: .safetensors, .npy (names in STEM.paths.txt) or .csv", Required = true };
        var layer = new Option<string?>("--layer") { Description = "Module whose output to take, average-pooled (avgpool, layer3); default: the pooled feature map before the head" };
        var batch = new Option<int>("--batch") { Description = "Images per forward", DefaultValueFactory = _ => 32 };
        var workers = new Option<int>("--workers") { Description = "Threads decoding images", DefaultValueFactory = _ => Environment.ProcessorCount };
        var engine = new EngineOptions();
        var command = new Command("embed", "Write one feature vector per image");
        common.AddTo(command);
        command.Arguments.Add(source);
        foreach (var o in new Option[] { output, layer, batch, workers }) command.Options.Add(o);
        engine.AddTo(command);
        command.SetAction(parsed =>
        {
            var error = parsed.InvocationConfiguration.Error;
            string target = parsed.GetValue(output)!;
            try
            {
                EmbeddingFile.CheckExtension(target);
            }
            catch (ArgumentException e)
            {
                throw new CliUsageException(e.Message);
            }
            if (parsed.GetValue(batch) < 1) throw new CliUsageException("--batch must be at least 1");
            if (parsed.GetValue(workers) < 1) throw new CliUsageException("--workers must be at least 1");
            var inference = engine.Read(parsed);
            string from = parsed.GetValue(source)!;
            if (!Directory.Exists(from) && !File.Exists(from)) throw new CliUsageException($"{from}: no such folder or list file");
            var files = ImageFile.List(from);
            Runtime.NativeHeap.KeepFreedMemory(); // batch after batch of large activations: reuse mapped pages (5x faster)

            using var embedder = ImageEmbedder.Create(common.CreateModel(parsed, error), common.Preprocessing(parsed), parsed.GetValue(layer), inference);
            var bar = new ProgressBar(error);
            var report = embedder.Run(files, target, new EmbedOptions
            {
                Pipeline = new ImagePipelineOptions { BatchSize = parsed.GetValue(batch), Workers = parsed.GetValue(workers) },
                Progress = bar,
            });
            bar.Finish();
            foreach (var failure in report.Unreadable) error.WriteLine($"skipped {failure.File.Path}: {failure.Problem}");
            parsed.InvocationConfiguration.Output.WriteLine(report);
            return BackbonesCli.Success;
        });
        return command;
    }

    /// <summary>One self-overwriting line: a bar, images done of the total, images/s, unreadable so far.</summary>
    sealed class ProgressBar(TextWriter error) : IProgress<EmbedProgress>
    {
        const int Width = 30;
        bool _shown;

        public void Report(EmbedProgress p)
        {
            _shown = true;
            int filled = p.Total == 0 ? Width : (int)((long)Width * p.Done / p.Total);
            string resumed = p.Resumed > 0 ? $"  ({p.Resumed} resumed)" : "";
            error.Write($"\r[{new string('#', filled)}{new string('-', Width - filled)}] {p.Done}/{p.Total}  {p.ImagesPerSecond:F1} images/s  {p.Unreadable} unreadable{resumed}   ");
        }

        public void Finish()
        {
            if (_shown) error.WriteLine();
        }
    }
}
