// TrainBench: training images/s (forward, loss, backward, SGD step) of torchvision ResNets at batch 32, the whole
// model trained and with the backbone frozen (only the new 10-class fc trains), side by side in one run: ours (the
// step `backbones finetune` takes) and Debian PyTorch 1.13 with the same recipe, as a user runs it and with glibc told
// to keep freed memory (what our CLI does for itself). Every engine runs in a long-lived process of its own and rounds
// are interleaved, so noise on this shared machine hits every engine alike. Before timing, every engine takes one step
// from the same weights on the same batch: the losses must agree and the same parameters must get a gradient.
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

if (args is ["worker"]) return TrainWorker.Run();

const string Python = "/usr/bin/python3"; // Debian's, which has torch; the python3 on PATH has not
const int Classes = 10;
const double LossTolerance = 1e-4; // relative difference of the check step's losses against PyTorch's
string[] configs = ["resnet18@64", "resnet18@224", "resnet50@224"];
string[] modes = ["full", "frozen"];
int batch = 32, rounds = 5, warmup = 1, images = 64;
for (int i = 0; i < args.Length; i += 2)
{
    string? value = i + 1 < args.Length ? args[i + 1] : null;
    bool ok = args[i] switch
    {
        "--configs" when value is not null => (configs = value.Split(',', StringSplitOptions.RemoveEmptyEntries)).All(c => TryConfig(c, out _, out _)),
        "--modes" when value is not null => (modes = value.Split(',', StringSplitOptions.RemoveEmptyEntries)).All(m => m is "full" or "frozen"),
        "--batch" => int.TryParse(value, out batch) && batch > 0,
        "--rounds" => int.TryParse(value, out rounds) && rounds > 0,
        "--warmup" => int.TryParse(value, out warmup) && warmup >= 0,
        "--images" => int.TryParse(value, out images) && images > 0,
        _ => false,
    };
    if (!ok)
    {
        Console.Error.WriteLine("usage: TrainBench [--configs resnet18@64,resnet18@224,resnet50@224] [--modes full,frozen]\n" +
                                "                  [--batch 32] [--rounds 5] [--warmup 1] [--images 64]");
        return 2;
    }
}

string repo = BenchProcess.FindRepo();
string results = Path.Combine(repo, "bench", "results");
string data = Path.Combine(results, "data", "train");
Directory.CreateDirectory(data);
string loadStart = BenchProcess.LoadAverage();
int iters = Math.Max(1, (images + batch - 1) / batch);
Console.WriteLine($"{Environment.ProcessorCount} cores, 2 threads an engine; batch {batch}, {iters} steps a sample; " +
                  $"{warmup} warm-up + {rounds} measured rounds; load average at start: {loadStart}");

// glibc's environment spelling of what NativeHeap.KeepFreedMemory() sets in our worker.
var heap = new Dictionary<string, string?> { ["MALLOC_MMAP_MAX_"] = "0", ["MALLOC_TRIM_THRESHOLD_"] = int.MaxValue.ToString() };
var workers = new Dictionary<string, WorkerProcess>
{
    ["ours"] = Self("ours"),
    ["torch"] = new("torch", Python, [Path.Combine(repo, "bench", "peers", "torch_train.py")], new Dictionary<string, string?>()),
    ["torch+heap"] = new("torch+heap", Python, [Path.Combine(repo, "bench", "peers", "torch_train.py")], heap),
};
string[] engines = [.. workers.Keys];
(string, string)[] ratioPairs = [("ours", "torch"), ("ours", "torch+heap")];

var report = new Dictionary<string, object>();
foreach (string config in configs)
{
    TryConfig(config, out string model, out int size);
    var weights = (string)workers["torch"].Request(new JsonObject { ["op"] = "prepare", ["model"] = model, ["classes"] = Classes, ["dir"] = data })["weights"]!;
    var (input, labels) = WriteBatch(size);
    foreach (string mode in modes)
        report[$"{config} {mode}"] = RunCase(model, size, mode, weights, input, labels);
}
foreach (var worker in workers.Values) worker.Dispose();

string loadEnd = BenchProcess.LoadAverage();
Console.WriteLine($"\nload average at end: {loadEnd}");
var json = new
{
    date = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"),
    machine = new
    {
        cores = Environment.ProcessorCount,
        cpu = BenchProcess.CpuName(),
        load_average_start = loadStart,
        load_average_end = loadEnd,
    },
    settings = new { threads = 2, batch, steps_per_sample = iters, warmup, rounds, classes = Classes, recipe = "SGD lr 0.01 momentum 0.9 weight decay 1e-4, cross-entropy, train mode", configs, modes },
    ratio_meaning = "ours images/s divided by the other engine's images/s in the same round (above 1: ours is faster)",
    step_over_forward_meaning = "time of a whole training step divided by the time of its forward and loss alone, per engine (median of rounds); " +
                                "near 1 means the step spent next to nothing on backward and update",
    cases = report,
};
string output = Path.Combine(results, "train.json");
BenchProcess.WriteReport(output, json);
Console.WriteLine($"wrote {Path.GetRelativePath(repo, output)}");
return 0;

// One model, size and mode on every engine: load and check one step, then interleaved rounds of steps and of forwards.
object RunCase(string model, int size, string mode, string weights, string input, string labels)
{
    var failed = new Dictionary<string, string>();
    var checks = new Dictionary<string, JsonObject>();
    foreach (string engine in engines)
    {
        try
        {
            checks[engine] = workers[engine].Request(new JsonObject
            {
                ["op"] = "load", ["model"] = model, ["classes"] = Classes, ["weights"] = weights, ["mode"] = mode,
                ["input"] = input, ["labels"] = labels, ["shape"] = new JsonArray(batch, 3, size, size),
            });
        }
        catch (WorkerException e)
        {
            failed[engine] = e.Message;
        }
    }
    // Same step first: every engine's losses and gradient set against PyTorch's.
    var check = new Dictionary<string, object>();
    if (checks.TryGetValue("torch", out var reference))
    {
        var referenceGrads = reference["with_grad"]!.AsArray().Select(n => (string)n!).ToList();
        foreach (var (engine, answer) in checks)
        {
            double loss = Relative((double)answer["loss"]!, (double)reference["loss"]!);
            double after = Relative((double)answer["loss_after"]!, (double)reference["loss_after"]!);
            var grads = answer["with_grad"]!.AsArray().Select(n => (string)n!).ToList();
            check[engine] = new { loss = (double)answer["loss"]!, loss_after = (double)answer["loss_after"]!, relative_to_torch = new { loss, loss_after = after }, with_grad = grads.Count };
            if (loss > LossTolerance || after > LossTolerance)
                failed.TryAdd(engine, $"losses differ from torch's: relative {loss:E1} before the step, {after:E1} after it (> {LossTolerance:E0})");
            else if (!grads.Order().SequenceEqual(referenceGrads.Order()))
                failed.TryAdd(engine, $"{grads.Count} parameters got a gradient, torch's {referenceGrads.Count}");
        }
        Console.WriteLine($"\n{model} {size}x{size} batch {batch}, {mode}: one step, loss {(double)reference["loss"]!:F5} -> {(double)reference["loss_after"]!:F5}, " +
                          $"{referenceGrads.Count} parameters with a gradient ({(referenceGrads.Count <= 4 ? string.Join(", ", referenceGrads) : "all")}); " +
                          "relative loss difference to torch: " + string.Join(", ", checks.Keys.Where(e => e != "torch").Select(e => $"{e} {Relative((double)checks[e]["loss"]!, (double)reference["loss"]!):E1}")));
    }
    else failed.TryAdd("torch", "no reference step");
    foreach (var (engine, why) in failed) Console.WriteLine($"  not timed: {engine}: {why}");

    var live = engines.Where(e => !failed.ContainsKey(e)).ToList();
    string[] whats = ["step", "forward"];
    var seconds = whats.ToDictionary(w => w, _ => live.ToDictionary(e => e, _ => new double?[rounds]));
    var faults = live.ToDictionary(e => e, _ => new double?[rounds]);
    string load = BenchProcess.LoadAverage();
    Console.Error.Write($"{model}@{size} {mode} (load average {load}): ");
    for (int round = 0; round < warmup + rounds; round++)
    {
        // The order rotates each round, so no engine always runs right after the same neighbour.
        for (int k = 0; k < live.Count; k++)
        {
            string engine = live[(round + k) % live.Count];
            if (failed.ContainsKey(engine)) continue;
            foreach (string what in whats)
            {
                try
                {
                    var answer = workers[engine].Request(new JsonObject { ["op"] = "time", ["what"] = what, ["iters"] = iters });
                    if (round < warmup) continue;
                    seconds[what][engine][round - warmup] = (double)answer["seconds"]!;
                    if (what == "step") faults[engine][round - warmup] = (double)answer["faults"]! / (batch * iters);
                }
                catch (WorkerException e)
                {
                    failed[engine] = $"{what}: {e.Message}";
                    Console.Error.Write($"[{engine} failed]");
                    break;
                }
            }
        }
        Console.Error.Write(round < warmup ? 'w' : '.');
    }
    Console.Error.WriteLine();
    foreach (string engine in live) workers[engine].Request(new JsonObject { ["op"] = "drop" }); // frees the model before the next one loads

    var speed = live.ToDictionary(e => e, e => seconds["step"][e].Select(s => batch * iters / s).ToArray());
    var summary = speed.ToDictionary(s => s.Key, s => Summary.Of(s.Value));
    var ratios = ratioPairs.Where(p => speed.ContainsKey(p.Item1) && speed.ContainsKey(p.Item2))
        .ToDictionary(p => $"{p.Item1} / {p.Item2}", p => Summary.Of(speed[p.Item1].Zip(speed[p.Item2], (a, b) => a / b)));
    var stepOverForward = live.ToDictionary(e => e, e => Summary.Of(seconds["step"][e].Zip(seconds["forward"][e], (s, f) => s / f)));
    Console.WriteLine($"  {"engine",-12} {"images/s min",12} {"median",8} {"max",8} {"step/forward",13} {"faults/image",13}");
    foreach (var (engine, s) in summary)
        Console.WriteLine($"  {engine,-12} {s.Min,12:F2} {s.Median,8:F2} {s.Max,8:F2} {stepOverForward[engine].Median,13:F2} {Summary.Of(faults[engine]).Median,13:F0}");
    foreach (var (name, r) in ratios)
        Console.WriteLine($"  {name,-24} round by round: median {r.Median:F2} (min {r.Min:F2}, max {r.Max:F2})");
    return new
    {
        versions = checks.ToDictionary(c => c.Key, c => (string?)c.Value["version"]),
        check,
        failed,
        load_average = load,
        images_per_second = summary,
        samples_images_per_second = speed,
        ratios,
        step_over_forward = stepOverForward,
        page_faults_per_image = faults.ToDictionary(f => f.Key, f => Summary.Of(f.Value).Median),
    };
}

// This same program in worker mode: its apphost, or `dotnet TrainBench.dll` when started that way.
WorkerProcess Self(string name)
{
    string self = Environment.ProcessPath!;
    string[] selfArgs = Path.GetFileNameWithoutExtension(self) == "dotnet" ? [typeof(TrainWorker).Assembly.Location, "worker"] : ["worker"];
    return new WorkerProcess(name, self, selfArgs, new Dictionary<string, string?>());
}

// A standard-normal batch (fixed seed) and labels 0..9 in turn, little-endian float32 and int64 files.
(string Input, string Labels) WriteBatch(int size)
{
    var random = new Random(size);
    var x = new float[batch * 3L * size * size];
    for (long i = 0; i < x.LongLength; i++)
        x[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
    var y = Enumerable.Range(0, batch).Select(i => (long)(i % Classes)).ToArray();
    string input = Path.Combine(data, $"x-{batch}-{size}.bin"), labels = Path.Combine(data, $"y-{batch}.bin");
    File.WriteAllBytes(input, MemoryMarshal.AsBytes(x.AsSpan()).ToArray());
    File.WriteAllBytes(labels, MemoryMarshal.AsBytes(y.AsSpan()).ToArray());
    return (input, labels);
}

static double Relative(double actual, double expected) => Math.Abs(actual - expected) / Math.Max(Math.Abs(expected), 1e-12);

static bool TryConfig(string text, out string model, out int size)
{
    var parts = text.Split('@');
    model = parts[0];
    size = 0;
    return parts.Length == 2 && model.StartsWith("resnet") && int.TryParse(parts[1], out size) && size >= 32;
}
