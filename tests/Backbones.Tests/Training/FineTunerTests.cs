using System.Text.Json;
using Backbones.Demo;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Data;
using Backbones.Tests.Init;
using Backbones.Tests.Support;
using Backbones.Training;
using Backbones.Vision;
using static TorchSharp.torch;

namespace Backbones.Tests.Training;

// Training reseeds torch's process-wide generator every step, and these tests seed it to build their models.
[Collection(nameof(GlobalGeneratorCollection))]
public sealed class FineTunerTests
{
    static readonly FineTuneOptions Recipe = new() { Epochs = 3, BatchSize = 25, LearningRate = 0.05, Schedule = ScheduleKind.Cosine, Seed = 7, Workers = 2 };

    /// <summary>Cancels the run after a given number of steps, as Ctrl-C does.</summary>
    sealed class StopAfter(int steps, CancellationTokenSource source) : IFineTuneObserver
    {
        int _seen;

        public void OnStep(StepProgress progress)
        {
            if (++_seen == steps) source.Cancel();
        }
    }

    static FineTuneResult Train(string run, FineTuneOptions options, bool resume = false, IFineTuneObserver? observer = null, CancellationToken token = default)
    {
        random.manual_seed(1);
        using var model = DemoModel.Create(5);
        var (train, validation) = TrainingData.DemoLoaders(20, 20, options.BatchSize, options.Seed);
        using var tuner = new FineTuner(model, train, validation, options);
        return tuner.Run(run, resume, observer, token);
    }

    [Fact]
    public void ResumedRunEndsWhereAnUninterruptedRunEnds()
    {
        string root = TempFolder.Create("resume");
        string whole = Path.Combine(root, "whole"), stopped = Path.Combine(root, "stopped");
        var options = Recipe with { Optimizer = OptimizerKind.Sgd, Freeze = ["layer1"], UnfreezeAtEpoch = 2 };
        var expected = Train(whole, options);

        // 4 steps an epoch (100 images, batch 25): stop mid-way through epoch 2, then resume.
        using (var source = new CancellationTokenSource())
        {
            var interrupted = Train(stopped, options, observer: new StopAfter(6, source), token: source.Token);
            Assert.True(interrupted.Interrupted);
            Assert.Single(interrupted.Epochs);
        }
        var resumed = Train(stopped, options, resume: true);

        Assert.False(resumed.Interrupted);
        Assert.Equal(expected.Epochs.Count, resumed.Epochs.Count);
        for (int e = 0; e < expected.Epochs.Count; e++)
        {
            Assert.Equal(expected.Epochs[e].TrainLoss, resumed.Epochs[e].TrainLoss, 1e-9);
            Assert.Equal(expected.Epochs[e].TrainAccuracy, resumed.Epochs[e].TrainAccuracy);
            Assert.Equal(expected.Epochs[e].ValidationLoss, resumed.Epochs[e].ValidationLoss, 1e-9);
            Assert.Equal(expected.Epochs[e].ValidationAccuracy, resumed.Epochs[e].ValidationAccuracy);
        }
        using var a = StateDict.Load(Path.Combine(whole, FineTuner.LastFile), "model");
        using var b = StateDict.Load(Path.Combine(stopped, FineTuner.LastFile), "model");
        Assert.Equal(a.Keys, b.Keys);
        foreach (var key in a.Keys) Assert.True(DataTensors.Identical(a[key], b[key]), $"{key} differs after resuming");
    }

    [Fact]
    public void AdamRunResumesAtAnEpochBoundaryWithItsStepCount()
    {
        string root = TempFolder.Create("resume-adam");
        var options = Recipe with { Optimizer = OptimizerKind.AdamW, LearningRate = 1e-3, Epochs = 2, Schedule = ScheduleKind.OneCycle };
        var expected = Train(Path.Combine(root, "whole"), options);
        using (var source = new CancellationTokenSource())
            Assert.True(Train(Path.Combine(root, "stopped"), options, observer: new StopAfter(4, source), token: source.Token).Interrupted);
        var resumed = Train(Path.Combine(root, "stopped"), options, resume: true);
        Assert.Equal(expected.Epochs[^1].ValidationLoss, resumed.Epochs[^1].ValidationLoss, 1e-9);

        using var checkpoint = Checkpoint.Load(Path.Combine(root, "stopped", FineTuner.LastFile));
        var state = (PyDict)((PyDict)((PyDict)checkpoint.Root!)["optimizer"]!)["state"]!;
        var first = (PyDict)state[0L]!;
        Assert.Equal(8f, ((Tensor)first["step"]!).item<float>()); // 2 epochs of 4 steps
    }

    [Fact]
    public void WritesTheRunFolder()
    {
        string run = TempFolder.Create("run-folder");
        var result = Train(run, Recipe);

        var lines = File.ReadAllLines(Path.Combine(run, FineTuner.MetricsFile));
        Assert.Equal(3, lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            using var line = JsonDocument.Parse(lines[i]);
            Assert.Equal(i + 1, line.RootElement.GetProperty("epoch").GetInt32());
            Assert.Equal(result.Epochs[i].ValidationAccuracy, line.RootElement.GetProperty("val_acc").GetDouble());
            Assert.Equal(["backbone", "head"], line.RootElement.GetProperty("lr").EnumerateObject().Select(p => p.Name).Order());
        }
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, FineTuner.ReportFile)));
        Assert.Equal(result.BestEpoch, report.RootElement.GetProperty("best_epoch").GetInt32());
        Assert.Equal(5, report.RootElement.GetProperty("classes").GetArrayLength());
        long confusionTotal = report.RootElement.GetProperty("confusion").EnumerateArray().Sum(r => r.EnumerateArray().Sum(c => c.GetInt64()));
        Assert.Equal(100, confusionTotal);

        var curves = ImageDecoder.Decode(Path.Combine(run, FineTuner.CurvesFile));
        Assert.Equal((1200, 480), (curves.Width, curves.Height));
        Assert.True(new FileInfo(Path.Combine(run, FineTuner.ConfusionFile)).Length > 0);
        using var best = Checkpoint.Load(Path.Combine(run, FineTuner.BestFile));
        Assert.Equal((long)result.BestEpoch, ((PyDict)best.Root!)["epoch"]);
        Assert.Empty(Directory.GetFiles(run, "*.tmp"));
    }

    [Fact]
    public void FrozenLayersStayExactlyAsTheyWere()
    {
        string run = TempFolder.Create("frozen");
        random.manual_seed(1);
        using var model = DemoModel.Create(5);
        var before = TrainingData.Snapshot(model);
        var (train, validation) = TrainingData.DemoLoaders(20, 10, 25, 3);
        using (var tuner = new FineTuner(model, train, validation, Recipe with { Epochs = 1, FreezeUntil = "layer3", FreezeBatchNorm = true }))
            tuner.Run(run);
        var after = TrainingData.Snapshot(model);
        foreach (var (key, value) in before)
        {
            bool frozen = key.StartsWith("conv1.") || key.StartsWith("bn1.") || key.StartsWith("layer1.") || key.StartsWith("layer2.");
            if (frozen) Assert.True(DataTensors.Identical(value, after[key]), $"{key} changed although frozen");
            else if (!key.EndsWith("num_batches_tracked")) Assert.False(DataTensors.Identical(value, after[key]), $"{key} did not train");
        }
    }

    [Fact]
    public void RefusesAFolderThatHoldsARunAndAResumeWithNothingToResume()
    {
        string run = TempFolder.Create("refuse");
        Train(run, Recipe with { Epochs = 1 });
        var stamp = File.GetLastWriteTimeUtc(Path.Combine(run, FineTuner.LastFile));
        var again = Assert.Throws<IOException>(() => Train(run, Recipe with { Epochs = 1 }));
        Assert.Contains("already holds a run", again.Message);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(Path.Combine(run, FineTuner.LastFile)));
        var nothing = Assert.Throws<FileNotFoundException>(() => Train(TempFolder.Create("empty"), Recipe, resume: true));
        Assert.Contains("nothing to resume", nothing.Message);
    }

    [Fact]
    public void InvalidRecipesNameTheOption()
    {
        Assert.Contains("unfreeze epoch", Assert.Throws<ArgumentException>(() => (Recipe with { UnfreezeAtEpoch = 2 }).Validate()).Message);
        Assert.Contains("label smoothing", Assert.Throws<ArgumentException>(() => (Recipe with { LabelSmoothing = 1 }).Validate()).Message);
        Assert.Contains("not both", Assert.Throws<ArgumentException>(() => (Recipe with { Freeze = ["layer1"], FreezeUntil = "layer2" }).Validate()).Message);
    }
}
