using System.Text.Json;
using Backbones.Data;
using Backbones.Models;
using Backbones.Runtime;
using Backbones.Serialization;
using Backbones.Tests.Data;
using Backbones.Tests.Init;
using Backbones.Tests.Support;
using Backbones.Training;
using Backbones.Vision;
using static TorchSharp.torch;

namespace Backbones.Tests.Training;

/// <summary>The schedules and the checkpoints against real PyTorch.</summary>
// Training reseeds torch's process-wide generator every step, and these tests seed it to build their models.
[Collection(nameof(GlobalGeneratorCollection))]
public sealed class TrainingParityTests
{
    /// <summary>Noise images whose label is their index's parity.</summary>
    sealed class NoiseImages(int count) : ILabeledDataset
    {
        public int Count => count;
        public IReadOnlyList<string> Classes { get; } = ["even", "odd"];
        public int Label(int index) => index % 2;
        public Tensor Read(int index) => DataTensors.Noise(3, 32, 32, (ulong)index);
        public string Describe(int index) => $"noise #{index}";
    }

    [Fact]
    public void SchedulesGiveTorchSchedulersRates()
    {
        const int epochs = 7, steps = 5, stepSize = 3;
        const double gamma = 0.5;
        var (code, output, error) = PyTorch.RunScript("lr_schedules.py", $"{epochs}", $"{steps}", $"{stepSize}", "0.5");
        Assert.True(code == 0, error);
        using var torch = JsonDocument.Parse(output);
        foreach (var (kind, name) in new[] { (ScheduleKind.Cosine, "cosine"), (ScheduleKind.Step, "step"), (ScheduleKind.OneCycle, "onecycle") })
        {
            var schedule = new LearningRateSchedule(kind, epochs, steps, stepSize, gamma);
            var expected = torch.RootElement.GetProperty(name).EnumerateArray().Select(e => e.GetDouble()).ToList();
            Assert.Equal(epochs * steps, expected.Count);
            for (int i = 0; i < expected.Count; i++)
                Assert.True(Math.Abs(expected[i] - schedule.Factor(i / steps, i)) < 1e-9, $"{name} step {i}: torch {expected[i]}, ours {schedule.Factor(i / steps, i)}");
        }
    }

    [Fact]
    public void PyTorchLoadsTheCheckpointAndTakesTheSameNextStep()
    {
        string folder = TempFolder.Create("torch-step");
        var preprocessing = new ImagePreprocessing { ResizeSize = 32, CropSize = 32 };
        var options = new FineTuneOptions { Epochs = 1, BatchSize = 8, LearningRate = 0.02, BackboneLearningRate = 0.005, WeightDecay = 1e-4, Seed = 3, Workers = 2 };
        DataLoader Loader(int count, bool shuffle) => new(new NoiseImages(count), new EvalTransform(preprocessing), new DataLoaderOptions { BatchSize = 8, Shuffle = shuffle, Seed = 3, Workers = 2 });
        random.manual_seed(5);
        using (var model = ModelZoo.Create("resnet18", new ModelOptions { NumClasses = 2 }))
        using (var tuner = new FineTuner(model, Loader(24, true), Loader(8, false), options))
            tuner.Run(folder);

        // The next step, in Backbones: the checkpoint loaded into a fresh model and optimizer.
        random.manual_seed(9);
        using var images = DataTensors.Noise(8 * 3, 64, 64, 99).reshape(8, 3, 64, 64).sub(0.5);
        using var labels = tensor(new long[] { 0, 1, 1, 0, 1, 0, 0, 1 });
        Checkpoint.Save(Path.Combine(folder, "batch.pth"), new Backbones.Serialization.Pickle.PyDict { ["images"] = images, ["labels"] = labels });
        File.WriteAllText(Path.Combine(folder, "config.json"), "{\"factor\": 0.5}");
        using var ours = ModelZoo.Create("resnet18", new ModelOptions { NumClasses = 2 });
        using (var tuner = new FineTuner(ours, Loader(24, true), Loader(8, false), options))
        {
            TrainingCheckpoint.Load(Path.Combine(folder, FineTuner.LastFile), ours, tuner.Optimizer);
            tuner.Optimizer.SetFactor(0.5);
            ours.train();
            tuner.Optimizer.ZeroGrad();
            using var loss = nn.functional.cross_entropy(ours.call(images), labels);
            OneDnn.Backward(loss);
            tuner.Optimizer.Step();
        }

        var (code, output, error) = PyTorch.RunScript("training_step.py", folder);
        Assert.True(code == 0, error);
        using var facts = JsonDocument.Parse(output);
        Assert.Equal(1, facts.RootElement.GetProperty("epoch").GetInt32());
        Assert.Equal(1, facts.RootElement.GetProperty("metrics").GetInt32());
        Assert.Equal(["head", "backbone"], facts.RootElement.GetProperty("groups").EnumerateArray().Select(g => g.GetString()));
        Assert.All(facts.RootElement.GetProperty("momentum").EnumerateArray(), m => Assert.Equal(0.9, m.GetDouble()));
        Assert.Equal(62, facts.RootElement.GetProperty("states").GetInt32()); // every parameter of resnet18 has a momentum buffer
        Assert.True(facts.RootElement.GetProperty("buffers_fit").GetBoolean());

        using var theirs = StateDict.Load(Path.Combine(folder, "after.pth"));
        foreach (var (key, value) in Backbones.Transfer.ModuleState.OrderedStateDict(ours))
        {
            if (key.EndsWith("num_batches_tracked")) { Assert.Equal(value.item<long>(), theirs[key].item<long>()); continue; }
            double relative = value.sub(theirs[key]).norm().item<float>() / Math.Max(1e-12, theirs[key].norm().item<float>());
            Assert.True(relative <= 1e-5, $"{key}: relative difference {relative:E2} after one more step");
        }
    }
}
