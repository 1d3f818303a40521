using System.CommandLine;
using System.Globalization;
using Backbones.Data;
using Backbones.Models;
using Backbones.Training;
using Backbones.Vision;

namespace Backbones.Cli;

/// <summary>
/// <c>backbones finetune --model M [--weights W] --data DIR -o RUN [recipe options] [--resume]</c>: fine-tunes a zoo model
/// on an image folder (train/ and val/, or one folder split by the seed) into a run folder; Ctrl-C saves and stops.
/// </summary>
internal static class FinetuneCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Architecture name (see backbones models)", Required = true };
        var weights = new Option<string?>("--weights") { Description = "Weights to start from: a catalogue name (DEFAULT, IMAGENET1K_V2) or a checkpoint file; the head is replaced when its classes differ" };
        var data = new Option<string>("--data") { Description = "Image folder: train/ and val/ with a folder per class, or a folder per class to split", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Run folder (last.pth, best.pth, metrics.jsonl, curves.png, confusion.png, report.json)", Required = true };
        var epochs = new Option<int>("--epochs") { DefaultValueFactory = _ => 10 };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 32 };
        var optimizer = new Option<string>("--optimizer") { DefaultValueFactory = _ => "sgd" };
        optimizer.AcceptOnlyFromAmong("sgd", "adam", "adamw");
        var lr = new Option<double>("--lr") { Description = "Learning rate of the head (and of the backbone unless --lr-backbone)", DefaultValueFactory = _ => 0.01 };
        var lrBackbone = new Option<double?>("--lr-backbone") { Description = "Learning rate of everything but the head" };
        var momentum = new Option<double>("--momentum") { Description = "SGD's momentum", DefaultValueFactory = _ => 0.9 };
        var weightDecay = new Option<double?>("--weight-decay") { Description = "Default: 1e-4 (sgd), 0 (adam), 0.01 (adamw)" };
        var freeze = new Option<string[]>("--freeze") { Description = "Parameter globs to freeze (layer1, features.*); repeat or comma-separate", AllowMultipleArgumentsPerToken = true };
        var freezeUntil = new Option<string?>("--freeze-until") { Description = "Freeze everything registered before this module (layer3)" };
        var unfreezeAt = new Option<int?>("--unfreeze-at") { Description = "Epoch (1-based) from which everything trains" };
        var freezeBn = new Option<bool>("--freeze-bn") { Description = "Hold BatchNorm statistics too: of the frozen layers, or of all when nothing is frozen" };
        var schedule = new Option<string>("--schedule") { DefaultValueFactory = _ => "cosine" };
        schedule.AcceptOnlyFromAmong("cosine", "step", "onecycle", "constant");
        var stepSize = new Option<int?>("--step-size") { Description = "Epochs between learning-rate drops with --schedule step (default: a third of the run)" };
        var gamma = new Option<double>("--gamma") { Description = "Factor of each drop with --schedule step", DefaultValueFactory = _ => 0.1 };
        var smoothing = new Option<double>("--label-smoothing") { DefaultValueFactory = _ => 0.0 };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 0UL };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in the output folder from its last.pth" };
        var validation = new Option<double>("--val-fraction") { Description = "Share of each class held out for validation when the folder has no val/", DefaultValueFactory = _ => 0.2 };
        var channels = new Option<int>("--in-channels") { Description = "3: gray images expanded to RGB; 1: images turned gray and the model's first convolution adapted", DefaultValueFactory = _ => 3 };
        channels.AcceptOnlyFromAmong("1", "3");
        var workers = new Option<int>("--workers") { Description = "Threads decoding and augmenting images", DefaultValueFactory = _ => Environment.ProcessorCount };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N", DefaultValueFactory = _ => "cpu" };
        var size = new ImageSizeOptions();

        var command = new Command("finetune", "Fine-tune a model on a folder of labelled images");
        foreach (var o in new Option[] { model, weights, data, output, epochs, batch, optimizer, lr, lrBackbone, momentum, weightDecay, freeze, freezeUntil,
                     unfreezeAt, freezeBn, schedule, stepSize, gamma, smoothing, seed, resume, validation, channels, workers, device })
            command.Options.Add(o);
        size.AddTo(command);
        command.SetAction(parsed =>
        {
            var stdout = parsed.InvocationConfiguration.Output;
            var stderr = parsed.InvocationConfiguration.Error;
            var options = new FineTuneOptions
            {
                Epochs = parsed.GetValue(epochs), BatchSize = parsed.GetValue(batch),
                Optimizer = Enum.Parse<OptimizerKind>(parsed.GetValue(optimizer)!, ignoreCase: true),
                LearningRate = parsed.GetValue(lr), BackboneLearningRate = parsed.GetValue(lrBackbone), Momentum = parsed.GetValue(momentum),
                WeightDecay = parsed.GetValue(weightDecay),
                Freeze = (parsed.GetValue(freeze) ?? []).SelectMany(f => f.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList(),
                FreezeUntil = parsed.GetValue(freezeUntil), UnfreezeAtEpoch = parsed.GetValue(unfreezeAt), FreezeBatchNorm = parsed.GetValue(freezeBn),
                Schedule = parsed.GetValue(schedule) switch { "step" => ScheduleKind.Step, "onecycle" => ScheduleKind.OneCycle, "constant" => ScheduleKind.Constant, _ => ScheduleKind.Cosine },
                StepSize = parsed.GetValue(stepSize), Gamma = parsed.GetValue(gamma), LabelSmoothing = parsed.GetValue(smoothing),
                Seed = parsed.GetValue(seed), Workers = parsed.GetValue(workers), Device = parsed.GetValue(device)!,
            };
            try { options.Validate(); }
            catch (ArgumentException e) { throw new CliUsageException(e.Message); }

            string name = parsed.GetValue(model)!;
            string? start = parsed.GetValue(weights);
            int inChannels = parsed.GetValue(channels);
            var folder = FineTuneData.FromFolder(parsed.GetValue(data)!, parsed.GetValue(validation), options.Seed);
            stdout.WriteLine(folder.Description);
            TorchSharp.torch.random.manual_seed((long)options.Seed);
            using var net = ModelZoo.Create(name, new ModelOptions { Weights = start, NumClasses = folder.Classes.Count, InChannels = inChannels });
            stdout.WriteLine(net.LoadedWeights is { } loaded ? loaded.ToString() : $"{name}: fresh weights (no --weights)");

            var preprocessing = size.Apply(parsed, ImagePreprocessing.For(name, start));
            var trainLoader = new DataLoader(folder.Train, TrainTransform.For(preprocessing, inChannels),
                new DataLoaderOptions { BatchSize = options.BatchSize, Seed = options.Seed, Workers = options.Workers, DropLast = folder.Train.Count % options.BatchSize == 1 });
            var validationLoader = new DataLoader(folder.Validation, new EvalTransform(preprocessing, inChannels),
                new DataLoaderOptions { BatchSize = options.BatchSize, Shuffle = false, Workers = options.Workers });
            Runtime.NativeHeap.KeepFreedMemory(); // step after step of large activations and gradients: reuse mapped pages
            using var tuner = new FineTuner(net, trainLoader, validationLoader, options);
            if (tuner.FreezeReport is { } frozen) stdout.WriteLine(frozen);
            stdout.WriteLine(tuner.Groups);
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{options.Optimizer} {tuner.Schedule}, {options.Epochs} epochs of {trainLoader.BatchCount} steps"));

            using var cancel = TrainingConsole.CancelOnCtrlC(stderr);
            var result = tuner.Run(parsed.GetValue(output)!, parsed.GetValue(resume), new TrainingConsole(stdout, stderr), cancel.Token);
            stdout.WriteLine(result);
            foreach (var failure in trainLoader.Failures.Concat(validationLoader.Failures).DistinctBy(f => f.Sample).Take(20))
                stderr.WriteLine($"skipped {failure}");
            return BackbonesCli.Success;
        });
        return command;
    }
}
