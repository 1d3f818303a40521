// LoadBench: how long it takes to load a torchvision ResNet-50 state dict (~100 MB .pth zip, page cache warm)
// into tensors, measured in one run side by side with Debian PyTorch's torch.load and with a plain read of the
// file's bytes (the floor). Rounds are interleaved, so noise on this shared machine hits every loader alike.
using System.Diagnostics;
using System.Text.Json;
using Backbones.Serialization;

const string Python = "/usr/bin/python3"; // Debian's, which has torch; the pyenv python3 on PATH has not
int runs = 15, warmup = 3;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--runs" && i + 1 < args.Length && int.TryParse(args[++i], out runs) && runs > 0) continue;
    if (args[i] == "--warmup" && i + 1 < args.Length && int.TryParse(args[++i], out warmup) && warmup >= 0) continue;
    Console.Error.WriteLine("usage: LoadBench [--runs N] [--warmup N]   (defaults: 15 measured runs after 3 warm-up runs)");
    return 2;
}

string repo = FindRepo();
string results = Path.Combine(repo, "bench", "results");
string file = Path.Combine(results, "data", "resnet50.pth");
if (!File.Exists(file)) Generate(repo, file);
long fileBytes = new FileInfo(file).Length;
File.ReadAllBytes(file); // page cache warm before anything is timed

using var peer = new TorchPeer(Python, Path.Combine(repo, "bench", "peers", "torch_load.py"));

// The same tensors must come out of both loaders, or the comparison means nothing.
var (ourTensors, ourBytes) = CountOurs(file);
var (_, torchTensors, torchBytes) = peer.Load(file, weightsOnly: false);
if (ourTensors != torchTensors || ourBytes != torchBytes)
{
    Console.Error.WriteLine($"loaders disagree: ours {ourTensors} tensors / {ourBytes} bytes, torch.load {torchTensors} / {torchBytes}");
    return 1;
}
string? weightsOnlyError = null;
try { peer.Load(file, weightsOnly: true); }
catch (InvalidOperationException e) { weightsOnlyError = e.Message; }

const string Ours = "ours: Checkpoint.Load", ReadAll = "File.ReadAllBytes", ReadReused = "read into reused buffer";
var reused = new byte[fileBytes];
var loaders = new List<(string Name, Func<double> Run)>
{
    (Ours, () => TimeOurs(file)),
    (ReadAll, () => Seconds(() => GC.KeepAlive(File.ReadAllBytes(file)))),
    (ReadReused, () => Seconds(() => ReadInto(file, reused))),
    ("torch.load", () => peer.Load(file, weightsOnly: false).Seconds),
};
if (weightsOnlyError is null) loaders.Add(("torch.load weights_only", () => peer.Load(file, weightsOnly: true).Seconds));

Console.WriteLine($"{file}: {fileBytes / 1e6:F1} MB, {ourTensors} tensors ({ourBytes / 1e6:F1} MB of data); torch {peer.TorchVersion}; " +
                  $"{Environment.ProcessorCount} cores; {warmup} warm-up + {runs} measured rounds");
if (weightsOnlyError is not null) Console.WriteLine($"torch.load(weights_only=True) fails here: {weightsOnlyError}");

var samples = loaders.ToDictionary(l => l.Name, _ => new List<double>());
for (int round = 0; round < warmup + runs; round++)
{
    // The order rotates each round, so no loader always runs right after the same neighbour.
    for (int k = 0; k < loaders.Count; k++)
    {
        var (name, run) = loaders[(round + k) % loaders.Count];
        GC.Collect(); // the previous loader's garbage is not this one's cost
        GC.WaitForPendingFinalizers();
        double seconds = run();
        if (round >= warmup) samples[name].Add(seconds);
    }
    Console.Error.Write(round < warmup ? 'w' : '.');
}
Console.Error.WriteLine();

// Summaries, and ratios taken round by round (same round, same conditions), then summarised.
var summary = samples.ToDictionary(s => s.Key, s => Stats(s.Value));
var ratios = loaders.Where(l => l.Name != Ours).ToDictionary(
    l => $"ours / {l.Name}", l => Stats(samples[Ours].Zip(samples[l.Name], (a, b) => a / b).ToList()));

Console.WriteLine();
Console.WriteLine($"{"loader",-26} {"min ms",8} {"median ms",10} {"max ms",8} {"median GB/s",12}");
foreach (var (name, s) in summary)
    Console.WriteLine($"{name,-26} {s.Min * 1e3,8:F1} {s.Median * 1e3,10:F1} {s.Max * 1e3,8:F1} {fileBytes / s.Median / 1e9,12:F2}");
Console.WriteLine();
Console.WriteLine($"{"ratio (per round)",-42} {"min",6} {"median",7} {"max",6}");
foreach (var (name, s) in ratios)
    Console.WriteLine($"{name,-42} {s.Min,6:F2} {s.Median,7:F2} {s.Max,6:F2}");

var goals = new Dictionary<string, bool>
{
    ["ours <= 1.5x File.ReadAllBytes (median)"] = ratios[$"ours / {ReadAll}"].Median <= 1.5,
    ["ours <= 1.5x read into reused buffer (median)"] = ratios[$"ours / {ReadReused}"].Median <= 1.5,
    ["ours faster than torch.load (median)"] = ratios["ours / torch.load"].Median < 1,
};
Console.WriteLine();
foreach (var (goal, met) in goals) Console.WriteLine($"goal {goal}: {(met ? "met" : "NOT met")}");

var report = new
{
    date = DateTimeOffset.Now.ToString("yyyy-MM-dd HH:mm:ss zzz"),
    machine = new { cores = Environment.ProcessorCount, os = Environment.OSVersion.ToString(), dotnet = Environment.Version.ToString(), torch = peer.TorchVersion },
    file = new { path = Path.GetRelativePath(repo, file), bytes = fileBytes, tensors = ourTensors, tensor_bytes = ourBytes },
    warmup,
    runs,
    weights_only_error = weightsOnlyError,
    samples_seconds = samples,
    summary_seconds = summary,
    ratios,
    goals,
};
string json = Path.Combine(results, "load.json");
Directory.CreateDirectory(results);
File.WriteAllText(json + ".tmp", JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
File.Move(json + ".tmp", json, overwrite: true); // a reader never sees half a report
Console.WriteLine($"\nwrote {Path.GetRelativePath(repo, json)}");
return 0;

// One timed load; the tensors are disposed after the clock stops (torch.load's are freed after its clock too).
static double TimeOurs(string file)
{
    long start = Stopwatch.GetTimestamp();
    using var checkpoint = Checkpoint.Load(file);
    using var state = checkpoint.TakeStateDict();
    return Stopwatch.GetElapsedTime(start).TotalSeconds;
}

static (int Tensors, long Bytes) CountOurs(string file)
{
    using var state = StateDict.Load(file);
    return (state.Count, state.Values.Sum(t => t.NumberOfElements * t.ElementSize));
}

static double Seconds(Action action)
{
    long start = Stopwatch.GetTimestamp();
    action();
    return Stopwatch.GetElapsedTime(start).TotalSeconds;
}

// The floor without allocation: the kernel's copy from the page cache into memory already touched.
static void ReadInto(string file, byte[] buffer)
{
    using var handle = File.OpenHandle(file);
    for (long done = 0; done < buffer.Length;)
    {
        int n = RandomAccess.Read(handle, buffer.AsSpan((int)done), done);
        if (n <= 0) throw new EndOfStreamException(file);
        done += n;
    }
}

static Summary Stats(List<double> values)
{
    var sorted = values.Order().ToArray();
    int mid = sorted.Length / 2;
    double median = sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    return new Summary(sorted[0], median, sorted[^1]);
}

// The repository root: where bench/ sits beside Directory.Build.props (dotnet run keeps the caller's directory).
static string FindRepo()
{
    foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Directory.Build.props")) && Directory.Exists(Path.Combine(dir.FullName, "bench")))
                return dir.FullName;
    throw new DirectoryNotFoundException("run LoadBench from inside the repository");
}

// Random-weight ResNet-50 written by real PyTorch; generated in a scratch folder, moved in whole.
static void Generate(string repo, string file)
{
    string scratch = Path.Combine(Path.GetDirectoryName(file)!, $"tmp-{Environment.ProcessId}");
    Console.Error.WriteLine($"writing {file} with {Python} ...");
    var info = new ProcessStartInfo(Python) { UseShellExecute = false };
    foreach (var arg in new[] { Path.Combine(repo, "tests", "reference", "write_torchvision_state_dicts.py"), scratch, "resnet50" })
        info.ArgumentList.Add(arg);
    using (var python = Process.Start(info)!)
    {
        python.WaitForExit();
        if (python.ExitCode != 0) throw new InvalidOperationException($"{Python} exited with {python.ExitCode} while writing the checkpoint");
    }
    File.Move(Path.Combine(scratch, "resnet50.pth"), file);
    Directory.Delete(scratch, recursive: true);
}

/// <summary>Spread of a list of samples (named fields, so the JSON report shows them).</summary>
record Summary(double Min, double Median, double Max);
