using System.CommandLine;
using Backbones.Demo;

namespace Backbones.Cli;

/// <summary>
/// <c>backbones demo [-o DIR]</c>: transfer learning on real images in a few minutes with nothing to download; prints
/// the transferred and the from-scratch model's validation accuracy on lines starting <c>transfer</c> and <c>scratch</c>.
/// </summary>
internal static class DemoCommand
{
    const string DefaultFolder = "backbones-demo";

    public static Command Create()
    {
        var output = new Option<string?>("--output", "-o") { Description = $"Folder for the runs, summary, curves and activation maps (default: ./{DefaultFolder}, or a new sibling if it exists)" };
        var data = new Option<string?>("--data") { Description = "Folder with the demo's images and pretrained backbone (default: the copy shipped with the tool)" };
        var epochs = new Option<int?>("--epochs") { Description = $"Epochs of each training (default {TransferDemo.Recipe.Epochs})" };
        var labels = new Option<int>("--labels") { Description = "Labelled training images per class, at most 100", DefaultValueFactory = _ => TransferDemo.LabelsPerClass };
        var command = new Command("demo", "Transfer learning vs training from scratch on Fashion-MNIST, in a few minutes");
        foreach (var o in new Option[] { output, data, epochs, labels }) command.Options.Add(o);
        command.SetAction(parsed =>
        {
            var stdout = parsed.InvocationConfiguration.Output;
            var stderr = parsed.InvocationConfiguration.Error;
            string folder = parsed.GetValue(output) ?? FreshFolder(DefaultFolder);
            string source = parsed.GetValue(data) ?? Path.Combine(AppContext.BaseDirectory, "demo");
            var recipe = TransferDemo.Recipe;
            if (parsed.GetValue(epochs) is { } e)
                recipe = e >= 1 ? recipe with { Epochs = e } : throw new CliUsageException("--epochs must be at least 1");
            stdout.WriteLine($"Fashion-MNIST classes 5-9 ({string.Join(", ", TransferDemo.TargetClasses.Select(c => Data.IdxDataset.FashionMnistClasses[c]))}), writing to {Path.GetFullPath(folder)}");
            Runtime.NativeHeap.KeepFreedMemory(); // step after step of activations and gradients: reuse mapped pages
            using var cancel = TrainingConsole.CancelOnCtrlC(stderr);
            if (parsed.GetValue(labels) is < 1 or > 100) throw new CliUsageException("--labels must be within 1..100");
            var result = TransferDemo.Run(source, folder, new TrainingConsole(stdout, stderr), recipe, cancel.Token, parsed.GetValue(labels));
            if (result.Transfer.Interrupted || result.Scratch.Interrupted)
            {
                stderr.WriteLine("interrupted");
                return BackbonesCli.Failure;
            }
            stdout.WriteLine();
            stdout.WriteLine(TransferDemo.Comparison(result));
            stdout.WriteLine($"summary, curves, confusion matrices and activation maps in {Path.GetFullPath(folder)}");
            return BackbonesCli.Success;
        });
        return command;
    }

    /// <summary><paramref name="name"/>, or name-2, name-3, ... : the first that does not exist, so no earlier demo is overwritten.</summary>
    static string FreshFolder(string name)
    {
        string candidate = name;
        for (int i = 2; Directory.Exists(candidate) || File.Exists(candidate); i++) candidate = $"{name}-{i}";
        return candidate;
    }
}
