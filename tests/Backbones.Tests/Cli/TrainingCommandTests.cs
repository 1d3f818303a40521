using System.Text.Json;
using Backbones.Data;
using Backbones.Tests.Init;
using Backbones.Tests.Support;
using Backbones.Tests.Training;
using Backbones.Training;
using Backbones.Vision;

namespace Backbones.Tests.Cli;

// Training reseeds torch's process-wide generator every step, and these tests seed it to build their models.
[Collection(nameof(GlobalGeneratorCollection))]
public sealed class TrainingCommandTests
{
    /// <summary>An image folder with train/ and val/: two classes of 40×40 PNGs, dark and bright noise.</summary>
    static string ImageFolder()
    {
        string root = TempFolder.Create("images");
        foreach (var (part, count) in new[] { ("train", 12), ("val", 6) })
            foreach (var (name, level) in new[] { ("dark", 40), ("bright", 200) })
            {
                string folder = Path.Combine(root, part, name);
                Directory.CreateDirectory(folder);
                var random = new DeterministicRandom((ulong)(level * 100 + count));
                for (int i = 0; i < count; i++)
                {
                    var rgb = new byte[40 * 40 * 3];
                    for (int p = 0; p < rgb.Length; p++) rgb[p] = (byte)Math.Clamp(level + random.NextInt(51) - 25, 0, 255);
                    Heatmap.WritePng(Path.Combine(folder, $"{i:D2}.png"), rgb, 40, 40);
                }
            }
        return root;
    }

    [Fact]
    public void FinetuneWritesARunThatEvaluateScoresAsTheRunDid()
    {
        string data = ImageFolder();
        string run = Path.Combine(TempFolder.Create("cli-run"), "run");
        var (code, output, error) = CliRunner.Run("finetune", "--model", "resnet18", "--data", data, "-o", run, "--epochs", "2", "--batch", "6",
            "--resize", "36", "--crop", "32", "--freeze-until", "layer3", "--lr", "0.01", "--lr-backbone", "0.001", "--workers", "2");
        Assert.True(code == 0, error + output);
        Assert.Contains("epoch 2: train loss", output);
        Assert.Contains("FreezeUntil(layer3)", output);
        Assert.Contains("epoch 2/2 [", error); // the progress bar
        foreach (var file in new[] { FineTuner.LastFile, FineTuner.BestFile, FineTuner.MetricsFile, FineTuner.CurvesFile, FineTuner.ConfusionFile, FineTuner.ReportFile })
            Assert.True(File.Exists(Path.Combine(run, file)), $"{file} missing");
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, FineTuner.ReportFile)));
        double best = report.RootElement.GetProperty("best_val_acc").GetDouble();
        var lines = File.ReadAllLines(Path.Combine(run, FineTuner.MetricsFile));
        using (var first = JsonDocument.Parse(lines[0]))
        {
            var lr = first.RootElement.GetProperty("lr");
            Assert.True(lr.GetProperty("head").GetDouble() / lr.GetProperty("backbone").GetDouble() is > 9.99 and < 10.01);
        }

        var (evalCode, evalOutput, evalError) = CliRunner.Run("evaluate", "--model", "resnet18", "--weights", Path.Combine(run, FineTuner.BestFile),
            "--data", data, "--resize", "36", "--crop", "32", "--json");
        Assert.True(evalCode == 0, evalError);
        using var scored = JsonDocument.Parse(evalOutput);
        Assert.Equal(12, scored.RootElement.GetProperty("images").GetInt32());
        Assert.Equal(best, scored.RootElement.GetProperty("accuracy").GetDouble(), 1e-12);
        Assert.Equal(["bright", "dark"], scored.RootElement.GetProperty("classes").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        Assert.Equal(12, scored.RootElement.GetProperty("confusion").EnumerateArray().Sum(r => r.EnumerateArray().Sum(c => c.GetInt64())));

        // A second finetune into the same folder is refused and leaves it as it was.
        var before = File.ReadAllBytes(Path.Combine(run, FineTuner.LastFile));
        var (again, _, againError) = CliRunner.Run("finetune", "--model", "resnet18", "--data", data, "-o", run, "--epochs", "1", "--resize", "36", "--crop", "32");
        Assert.NotEqual(0, again);
        Assert.Contains("already holds a run", againError);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(run, FineTuner.LastFile)));
    }

    [Fact]
    public void DemoShowsTransferBeatingScratchOnTheShippedImages()
    {
        string folder = Path.Combine(TempFolder.Create("demo"), "out");
        var (code, output, error) = CliRunner.Run("demo", "-o", folder, "--data", TrainingData.DemoFolder);
        Assert.True(code == 0, error + output);
        var transfer = output.Split('\n').Single(l => l.StartsWith("transfer "));
        var scratch = output.Split('\n').Single(l => l.StartsWith("scratch "));
        double Percent(string line) => double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1].TrimEnd('%'), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(Percent(transfer), 0, 100);
        Assert.True(Percent(transfer) > Percent(scratch), $"transfer {Percent(transfer)}% vs scratch {Percent(scratch)}%");
        foreach (var file in new[] { "summary.txt", "transfer/curves.png", "scratch/curves.png", "transfer/confusion.png", "transfer/activations/Sandal-layer1.png" })
            Assert.True(File.Exists(Path.Combine(folder, file)), $"{file} missing");
        Assert.Contains("total params", File.ReadAllText(Path.Combine(folder, "summary.txt")));
    }
}
