// ZooBench: eval-mode inference speed (images/s) of torchvision architectures, 224×224 float32, 2 threads, measured
// in one run side by side: ours (ModelZoo on TorchSharp), Debian PyTorch 1.13 eager, ONNX Runtime on PyTorch's own
// ONNX export, and ONNX Runtime on our export (ours-onnx: Backbones' onnx engine), all with the same random weights. --experiments measures variants of ours on ResNet-50 instead
// (grad mode, channels-last, folded BatchNorm, allocator and OpenMP settings). Every engine runs in a long-lived process of its
// own (WorkerProcess.cs) and rounds are interleaved, so noise on this shared machine hits every engine alike.
using System.Text.Json.Nodes;
using Backbones.Models;

if (args is ["worker"]) return Worker.Run();

const string Python = "/usr/bin/python3"; // Debian's, which has torch; the python3 on PATH has not
const double Tolerance = 1e-4;           // relative L2 of the logits against PyTorch's
string[] models = ["resnet18", "resnet50", "vgg16", "densenet121", "mobilenet_v3_large", "efficientnet_b0", "convnext_tiny"];
int[] batches = [1, 8, 32];
int rounds = 5, warmup = 1, images = 32;
string? experiments = null;
bool modelsGiven = false;
for (int i = 0; i < args.Length; i++)
{
    string? value = i + 1 < args.Length ? args[i + 1] : null;
    bool ok = args[i] switch
    {
        "--models" when value is not null => (models = value.Split(',', StringSplitOptions.RemoveEmptyEntries)).Length > 0 && (modelsGiven = true),
        "--batches" when value is not null => TryInts(value, out batches),
        "--rounds" when value is not null => int.TryParse(value, out rounds) && rounds > 0,
        "--warmup" when value is not null => int.TryParse(value, out warmup) && warmup >= 0,
        "--images" when value is not null => int.TryParse(value, out images) && images > 0,
        "--experiments" when value is "variants" or "environment" or "all" => (experiments = value) is not null,
        _ => false,
    };
    if (!ok)
    {
        Console.Error.WriteLine("usage: ZooBench [--models a,b,...] [--batches 1,8,32] [--rounds 5] [--warmup 1] [--images 32]\n" +
                                "                [--experiments variants|environment|all]   (experiments default to --models resnet50)");
        return 2;
    }
    i++;
}
if (experiments is not null && !modelsGiven) models = ["resnet50"];

string repo = BenchProcess.FindRepo();
string results = Path.Combine(repo, "bench", "results");
string data = Path.Combine(results, "data", "zoo");
Directory.CreateDirectory(data);
long[] checkShape = [2, 3, 224, 224];
string checkInput = WriteCheckInput(Path.Combine(data, "input.bin"), checkShape);
var known = ModelZoo.List();
string loadStart = BenchProcess.LoadAverage();

Phase[] phases = experiments switch
{
    null => [new("main", [Torch("torch"), Ours("ours"), Ort("ort"), OursOnnx("ours-onnx")],
                 [("ours", "torch"), ("ours", "ort"), ("ours-onnx", "torch"), ("ours-onnx", "ort")])],
    "variants" => [VariantsPhase()],
    "environment" => [EnvironmentPhase()],
    _ => [VariantsPhase(), EnvironmentPhase()],
};
Console.WriteLine($"{Environment.ProcessorCount} cores, {Worker.Threads} threads an engine; {warmup} warm-up + {rounds} measured rounds; " +
                  $"at least {images} images a sample; load average at start: {loadStart}");

// Models ModelZoo does not know yet (families still being written) are skipped, each with one line.
var skipped = models.Where(m => !known.Contains(m))
    .Select(m => new { model = m, reason = $"ModelZoo does not know '{m}' yet (known: {string.Join(", ", known)})" }).ToList();
foreach (var skip in skipped) Console.WriteLine($"skipped {skip.model}: {skip.reason}");
var report = new Dictionary<string, object>();
foreach (var phase in skipped.Count < models.Length ? phases : [])
{
    Console.WriteLine($"\n== {phase.Name}: {string.Join(", ", phase.Engines.Select(e => e.Name))}");
    var workers = phase.Engines.ToDictionary(e => e.Name, Start);
    report[phase.Name] = models.Where(known.Contains).ToDictionary(m => m, m => RunModel(m, phase, workers));
    foreach (var worker in workers.Values) worker.Dispose();
}

string loadEnd = BenchProcess.LoadAverage();
Console.WriteLine($"\nload average at end: {loadEnd}");
var json = new
{
    date = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"),
    machine = new
    {
        cores = Environment.ProcessorCount,
        cpu = BenchProcess.CpuName(),
        os = Environment.OSVersion.ToString(),
        dotnet = Environment.Version.ToString(),
        load_average_start = loadStart,
        load_average_end = loadEnd,
        environment = new[] { "THP_MEM_ALLOC_ENABLE", "GLIBC_TUNABLES", "OMP_WAIT_POLICY", "OMP_NUM_THREADS" }.ToDictionary(v => v, Environment.GetEnvironmentVariable),
    },
    settings = new { threads = Worker.Threads, input = "224x224 float32", warmup, rounds, images_per_sample_at_least = images, batches, models, tolerance_relative_l2 = Tolerance },
    ratio_meaning = "ours images/s divided by the other engine's images/s in the same round (above 1: ours is faster)",
    skipped,
    phases = report,
};
string output = Path.Combine(results, experiments is null ? "zoo.json" : "zoo-experiments.json");
BenchProcess.WriteReport(output, json);
Console.WriteLine($"wrote {Path.GetRelativePath(repo, output)}");
return 0;

// One model on every engine of a phase: prepare (weights + ONNX), load and check logits, then interleaved rounds per batch.
object RunModel(string model, Phase phase, Dictionary<string, WorkerProcess> workers)
{
    var failed = new Dictionary<string, string>();
    var preparer = workers[phase.Engines.First(e => e.Kind == "torch").Name];
    JsonObject files;
    try
    {
        files = preparer.Request(new JsonObject { ["op"] = "prepare", ["model"] = model, ["dir"] = data });
    }
    catch (WorkerException e)
    {
        Console.WriteLine($"skipped {model}: preparing it failed: {e.Message}");
        return new { error = e.Message };
    }

    var logits = new Dictionary<string, float[]>();
    var versions = new Dictionary<string, string>();
    foreach (var engine in phase.Engines)
    {
        try
        {
            var answer = workers[engine.Name].Request(new JsonObject
            {
                ["op"] = "load", ["model"] = model, ["weights"] = files["weights"]!.DeepClone(), ["onnx"] = files["onnx"]!.DeepClone(),
                ["input"] = checkInput, ["shape"] = new JsonArray(checkShape.Select(n => (JsonNode)n).ToArray()), ["variant"] = engine.Variant.DeepClone(),
            });
            logits[engine.Name] = answer["logits"]!.AsArray().Select(v => (float)v!).ToArray();
            versions[engine.Name] = (string)answer["version"]!;
        }
        catch (WorkerException e)
        {
            failed[engine.Name] = e.Message;
        }
    }
    // Same numbers first: every engine against the first PyTorch engine, on the same two images.
    string reference = phase.Engines.First(e => e.Kind == "torch").Name;
    var check = new Dictionary<string, double>();
    var wrong = new Dictionary<string, string>();
    if (logits.TryGetValue(reference, out var expected))
        foreach (var (name, actual) in logits)
        {
            check[name] = RelativeL2(actual, expected);
            if (check[name] <= Tolerance) continue;
            string why = $"logits differ from {reference}'s: relative L2 {check[name]:E2} > {Tolerance:E0}";
            if (phase.TimeWrong) wrong[name] = why;
            else failed.TryAdd(name, why);
        }
    else failed.TryAdd(reference, "no reference logits");
    Console.WriteLine($"\n{model} (ONNX opset {files["opset"]}): relative L2 of the logits against {reference}: " +
                      string.Join(", ", check.Select(c => $"{c.Key} {c.Value:E1}")));
    foreach (var (name, why) in failed) Console.WriteLine($"  not timed: {name}: {why}");
    foreach (var (name, why) in wrong) Console.WriteLine($"  timed for information only, marked (WRONG): {name}: {why}");

    var live = phase.Engines.Where(e => !failed.ContainsKey(e.Name)).ToList();
    var perBatch = new Dictionary<string, object>();
    foreach (int batch in batches)
    {
        int iters = Math.Max(1, (images + batch - 1) / batch);
        var speed = live.ToDictionary(e => e.Name, _ => new double?[rounds]);
        var faults = live.ToDictionary(e => e.Name, _ => new double?[rounds]);
        string load = BenchProcess.LoadAverage();
        Console.Error.Write($"{model} batch {batch} (load average {load}): ");
        for (int round = 0; round < warmup + rounds; round++)
        {
            // The order rotates each round, so no engine always runs right after the same neighbour.
            for (int k = 0; k < live.Count; k++)
            {
                var engine = live[(round + k) % live.Count];
                if (failed.ContainsKey(engine.Name)) continue;
                try
                {
                    var answer = workers[engine.Name].Request(new JsonObject { ["op"] = "time", ["batch"] = batch, ["iters"] = iters });
                    if (round < warmup) continue;
                    speed[engine.Name][round - warmup] = batch * iters / (double)answer["seconds"]!;
                    faults[engine.Name][round - warmup] = (double)answer["faults"]! / (batch * iters);
                }
                catch (WorkerException e)
                {
                    failed[engine.Name] = $"batch {batch}: {e.Message}";
                    Console.Error.Write($"[{engine.Name} failed]");
                }
            }
            Console.Error.Write(round < warmup ? 'w' : '.');
        }
        Console.Error.WriteLine();
        perBatch[batch.ToString()] = Summarise(model, batch, iters, load, speed, faults, phase.Ratios, wrong);
    }
    foreach (var engine in live.Where(e => !failed.ContainsKey(e.Name)))
        workers[engine.Name].Request(new JsonObject { ["op"] = "drop" }); // frees the model before the next one loads
    foreach (var (name, why) in failed.Where(f => live.Any(e => e.Name == f.Key))) Console.WriteLine($"  failed while timing: {name}: {why}");
    return new { onnx_opset = (int)files["opset"]!, versions, relative_l2_vs = reference, relative_l2 = check, failed, wrong_logits = wrong, batches = perBatch };
}

// Prints one batch's table and returns it for the JSON report. Ratios are taken round by round, then summarised.
object Summarise(string model, int batch, int iters, string load, Dictionary<string, double?[]> speed, Dictionary<string, double?[]> faults, (string, string)[] ratioPairs, Dictionary<string, string> wrong)
{
    var summary = speed.Where(s => s.Value.Any(v => v.HasValue)).ToDictionary(s => s.Key, s => Summary.Of(s.Value));
    var ratios = new Dictionary<string, Summary>();
    foreach (var (num, den) in ratioPairs.Where(p => summary.ContainsKey(p.Item1) && summary.ContainsKey(p.Item2)))
        ratios[$"{num} / {den}{(wrong.ContainsKey(num) || wrong.ContainsKey(den) ? " (WRONG)" : "")}"] = Summary.Of(speed[num].Zip(speed[den], (a, b) => a / b).ToArray());
    var faultsPerImage = faults.Where(f => summary.ContainsKey(f.Key)).ToDictionary(f => f.Key, f => Summary.Of(f.Value).Median);

    Console.WriteLine($"{$"{model}, batch {batch} ({iters} forwards a sample)",-62} {"min img/s",10} {"median",8} {"max",8} {"faults/img",11}");
    foreach (var (name, s) in summary)
        Console.WriteLine($"  {name + (wrong.ContainsKey(name) ? " (WRONG)" : ""),-60} {s.Min,10:F2} {s.Median,8:F2} {s.Max,8:F2} {faultsPerImage[name],11:F0}");
    Console.WriteLine($"  {"images/s ratio, round by round",-60} {"min",10} {"median",8} {"max",8}");
    foreach (var (name, s) in ratios)
        Console.WriteLine($"  {name,-60} {s.Min,10:F2} {s.Median,8:F2} {s.Max,8:F2}");
    return new { load_average_before = load, iters_per_sample = iters, images_per_second = speed, summary_images_per_second = summary, ratios, median_page_faults_per_image = faultsPerImage };
}

WorkerProcess Start(EngineSpec engine)
{
    if (engine.Kind == "torch")
        return new WorkerProcess(engine.Name, Python, [Path.Combine(repo, "bench", "peers", "torch_zoo.py")], engine.Environment);
    // This same program in worker mode: its apphost, or `dotnet ZooBench.dll` when started that way.
    string self = Environment.ProcessPath!;
    string[] selfArgs = Path.GetFileNameWithoutExtension(self) == "dotnet" ? [typeof(Worker).Assembly.Location, "worker"] : ["worker"];
    return new WorkerProcess(engine.Name, self, selfArgs, engine.Environment);
}

// Experiments (1)-(3): ours with each change alone, and PyTorch's counterparts for scale, in one interleaved phase.
Phase VariantsPhase()
{
    EngineSpec[] engines =
    [
        Ours("ours"),
        Ours("ours no_grad", ("grad", "no_grad")),
        Ours("ours channels_last", ("channels_last", true)),
        Ours("ours functional", ("functional", "plain")),
        Ours("ours functional folded", ("functional", "folded")),
        Ours("ours functional folded channels_last", ("functional", "folded"), ("channels_last", true)),
        Torch("torch"),
        Torch("torch no_grad", ("grad", "no_grad")),
        Torch("torch channels_last", ("channels_last", true)),
        Torch("torch folded (fx fuse)", ("fold_bn", true)),
    ];
    var ratios = engines.Where(e => e.Name is not ("ours" or "torch")).Select(e => (e.Name, e.Kind == "ours" ? "ours" : "torch"))
        .Append(("ours functional folded", "ours functional")).Append(("ours", "torch")).ToArray();
    return new("variants", engines, ratios, TimeWrong: true);
}

// Experiment (4): allocator settings, and OpenMP's wait policy (both read at process start, so each setting gets
// processes of its own). Every variable not in a setting is removed from that setting's processes.
Phase EnvironmentPhase()
{
    string[] variables = ["THP_MEM_ALLOC_ENABLE", "GLIBC_TUNABLES", "OMP_WAIT_POLICY"];
    (string Name, string?[] Values)[] settings =
    [
        ("none", [null, null, null]),
        ("THP_MEM_ALLOC_ENABLE=1", ["1", null, null]),
        ("glibc.malloc.hugetlb=1", [null, "glibc.malloc.hugetlb=1", null]),
        ("both", ["1", "glibc.malloc.hugetlb=1", null]),
        ("OMP_WAIT_POLICY=passive", [null, null, "passive"]),
    ];
    var engines = settings.SelectMany(s => new[] { Ours($"ours [{s.Name}]"), Torch($"torch [{s.Name}]") }
        .Select(e => e with { Environment = variables.Zip(s.Values).ToDictionary(v => v.First, v => v.Second) })).ToArray();
    var ratios = settings.Skip(1).SelectMany(s => new[]
    {
        ($"ours [{s.Name}]", "ours [none]"), ($"torch [{s.Name}]", "torch [none]"),
    }).Concat(settings.Select(s => ($"ours [{s.Name}]", $"torch [{s.Name}]"))).ToArray();
    return new("environment", engines, ratios);
}

static EngineSpec Ours(string name, params (string Key, JsonNode Value)[] variant) => Spec(name, "ours", variant);
static EngineSpec Ort(string name) => Spec(name, "ort", []);
static EngineSpec OursOnnx(string name) => Spec(name, "ours-onnx", []);
static EngineSpec Torch(string name, params (string Key, JsonNode Value)[] variant) => Spec(name, "torch", variant);

static EngineSpec Spec(string name, string kind, (string Key, JsonNode Value)[] variant)
{
    var json = new JsonObject { ["engine"] = kind };
    foreach (var (key, value) in variant) json[key] = value;
    return new(name, kind, json, new Dictionary<string, string?>());
}

static double RelativeL2(float[] actual, float[] expected)
{
    if (actual.Length != expected.Length) return double.PositiveInfinity;
    double diff = 0, norm = 0;
    for (int i = 0; i < actual.Length; i++)
    {
        diff += Math.Pow(actual[i] - (double)expected[i], 2);
        norm += Math.Pow(expected[i], 2);
    }
    return Math.Sqrt(diff / norm);
}

// Two standard-normal 224×224 images (fixed seed), little-endian float32: the input every engine checks its logits on.
static string WriteCheckInput(string path, long[] shape)
{
    var random = new Random(0);
    var values = new float[shape.Aggregate(1L, (a, b) => a * b)];
    for (int i = 0; i < values.Length; i++)
        values[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
    File.WriteAllBytes(path, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
    return path;
}

static bool TryInts(string text, out int[] values)
{
    values = text.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.TryParse(s, out int v) && v > 0 ? v : 0).ToArray();
    return values.Length > 0 && values.All(v => v > 0);
}

/// <summary>One engine: a name, its kind (torch, ours, ort), the variant its worker applies, and environment changes for its process (null removes).</summary>
record EngineSpec(string Name, string Kind, JsonObject Variant, IReadOnlyDictionary<string, string?> Environment);

/// <summary>
/// Engines timed together, interleaved, and the ratios to report (numerator, denominator). With TimeWrong, an engine
/// whose logits fail the check is still timed (experiments only), marked WRONG; otherwise it is not timed.
/// </summary>
record Phase(string Name, EngineSpec[] Engines, (string, string)[] Ratios, bool TimeWrong = false);

