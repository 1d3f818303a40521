// LoadBench: how long it takes to load a torchvision ResNet-50 state dict (~100 MB .pth zip, page cache warm)
// into tensors, measured in one run side by side with Debian PyTorch's torch.load and with a plain read of the
// file's bytes (the floor). Rounds are interleaved, so noise on this shared machine hits every loader alike.
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Backbones.Serialization;

const string Python = "/usr/bin/python3"; // Debian's, which has torch; the pyenv python3 on PATH has not
const string Ours = "ours: Checkpoint.Load", OursNoCrc = "ours, no CRC-32 check", PlainRead = "plain read", TorchLoad = "torch.load";
int runs = 15, warmup = 3;
string[] memories = ["reused", "fresh"];
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--runs" && i + 1 < args.Length && int.TryParse(args[++i], out runs) && runs > 0) continue;
    if (args[i] == "--warmup" && i + 1 < args.Length && int.TryParse(args[++i], out warmup) && warmup >= 0) continue;
    if (args[i] == "--memory" && i + 1 < args.Length && args[++i] is "reused" or "fresh" or "both")
    {
        memories = args[i] == "both" ? memories : [args[i]];
        continue;
    }
    Console.Error.WriteLine("usage: LoadBench [--runs N] [--warmup N] [--memory reused|fresh|both]   (defaults: 15, 3, both)");
    return 2;
}

// Loading is mostly a copy into new tensor memory, so whether that memory's pages are already mapped decides
// the time (a new page costs ~12 µs on this VM). glibc decides that by heuristics that flip from run to run,
// so both processes pin it (Libc.cs, torch_load.py) and every loader is measured in two states, one phase each:
//   reused: the memory the previous load freed is still mapped (a process that loads again and again);
//   fresh:  free memory is handed back to the kernel before the load (the first load in a new process).
// Phases, not mixed rounds: the first load into reused pages after a fresh one runs 2-5x slower on this VM
// with no page fault the guest can see, which would blur 'reused' with 'fresh'.
Libc.KeepFreedMemory();

string repo = BenchProcess.FindRepo();
string results = Path.Combine(repo, "bench", "results");
string file = Path.Combine(results, "data", "resnet50.pth");
if (!File.Exists(file)) Generate(repo, file);
long fileBytes = new FileInfo(file).Length;
File.ReadAllBytes(file); // page cache warm before anything is timed

using var peer = new TorchPeer(Python, Path.Combine(repo, "bench", "peers", "torch_load.py"));

// The same tensors must come out of both loaders, or the comparison means nothing.
var (ourTensors, ourBytes) = CountOurs(file);
var (_, _, torchTensors, torchBytes) = peer.Load(file, weightsOnly: false);
if (ourTensors != torchTensors || ourBytes != torchBytes)
{
    Console.Error.WriteLine($"loaders disagree: ours {ourTensors} tensors / {ourBytes} bytes, torch.load {torchTensors} / {torchBytes}");
    return 1;
}
string? weightsOnlyError = null;
try { peer.Load(file, weightsOnly: true); }
catch (InvalidOperationException e) { weightsOnlyError = e.Message; }

var reusedBuffer = new byte[fileBytes];
ReadInto(file, reusedBuffer); // its pages are mapped from here on
List<Loader> LoadersFor(bool fresh)
{
    var loaders = new List<Loader>
    {
        new(Ours, () => TimeOurs(file, fresh, verify: true)),
        // torch.load does not check the zip's CRC-32s: this is ours doing the same work.
        new(OursNoCrc, () => TimeOurs(file, fresh, verify: false)),
        new(PlainRead, () => fresh ? ReadIntoNewBuffer(file, fileBytes) : Measure(() => ReadInto(file, reusedBuffer))),
        new(TorchLoad, () => FromPeer(peer.Load(file, weightsOnly: false, fresh))),
    };
    if (weightsOnlyError is null)
        loaders.Add(new(TorchLoad + " weights_only", () => FromPeer(peer.Load(file, weightsOnly: true, fresh))));
    return loaders;
}

Console.WriteLine($"{Path.GetRelativePath(repo, file)}: {fileBytes / 1e6:F1} MB, {ourTensors} tensors ({ourBytes / 1e6:F1} MB of data); " +
                  $"torch {peer.TorchVersion}; {Environment.ProcessorCount} cores; {warmup} warm-up + {runs} measured rounds");
if (weightsOnlyError is not null) Console.WriteLine($"torch.load(weights_only=True) fails here: {weightsOnlyError}");

var samples = new Dictionary<string, Dictionary<string, List<double>>>();
var faults = new Dictionary<string, Dictionary<string, List<long>>>();
foreach (string memory in memories)
{
    var loaders = LoadersFor(fresh: memory == "fresh");
    samples[memory] = loaders.ToDictionary(l => l.Name, _ => new List<double>());
    faults[memory] = loaders.ToDictionary(l => l.Name, _ => new List<long>());
    Console.Error.Write($"{memory} memory: ");
    for (int round = 0; round < warmup + runs; round++)
    {
        // The order rotates each round, so no loader always runs right after the same neighbour.
        for (int k = 0; k < loaders.Count; k++)
        {
            var loader = loaders[(round + k) % loaders.Count];
            GC.Collect(); // the previous loader's garbage is not this one's cost
            GC.WaitForPendingFinalizers();
            var sample = loader.Run();
            if (round < warmup) continue;
            samples[memory][loader.Name].Add(sample.Seconds);
            faults[memory][loader.Name].Add(sample.PageFaults);
        }
        Console.Error.Write(round < warmup ? 'w' : '.');
    }
    Console.Error.WriteLine();
}

// Ratios are taken round by round (same round, same conditions), then summarised.
var summary = samples.ToDictionary(m => m.Key, m => m.Value.ToDictionary(s => s.Key, s => Summary.Of(s.Value)));
string[] ourLoaders = [Ours, OursNoCrc];
var ratios = samples.ToDictionary(m => m.Key, m => ourLoaders.SelectMany(o => m.Value.Keys.Where(n => !ourLoaders.Contains(n)).Select(n =>
    (Name: $"{o} / {n}", Value: Summary.Of(m.Value[o].Zip(m.Value[n], (a, b) => a / b).ToList())))).ToDictionary(r => r.Name, r => r.Value));
var goals = ratios.ToDictionary(m => m.Key, m => ourLoaders.SelectMany(o => new[]
{
    ($"{o} <= 1.5x plain read (median ratio)", m.Value[$"{o} / {PlainRead}"].Median <= 1.5),
    ($"{o} faster than torch.load (median ratio)", m.Value[$"{o} / {TorchLoad}"].Median < 1),
}).ToDictionary(g => g.Item1, g => g.Item2));

foreach (var (memory, rows) in summary)
{
    Console.WriteLine();
    Console.WriteLine($"{memory + " memory",-44} {"min ms",8} {"median ms",10} {"max ms",8} {"median GB/s",12} {"page faults",12}");
    foreach (var (name, s) in rows)
        Console.WriteLine($"  {name,-42} {s.Min * 1e3,8:F1} {s.Median * 1e3,10:F1} {s.Max * 1e3,8:F1} {fileBytes / s.Median / 1e9,12:F2} {Median(faults[memory][name]),12}");
    Console.WriteLine($"  {"ratio, round by round",-42} {"min",8} {"median",10} {"max",8}");
    foreach (var (name, s) in ratios[memory])
        Console.WriteLine($"  {name,-42} {s.Min,8:F2} {s.Median,10:F2} {s.Max,8:F2}");
    foreach (var (goal, met) in goals[memory])
        Console.WriteLine($"  goal {goal}: {(met ? "met" : "NOT met")}");
}

var report = new
{
    date = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"),
    machine = new { cores = Environment.ProcessorCount, os = Environment.OSVersion.ToString(), dotnet = Environment.Version.ToString(), torch = peer.TorchVersion },
    file = new { path = Path.GetRelativePath(repo, file), bytes = fileBytes, tensors = ourTensors, tensor_bytes = ourBytes },
    warmup,
    runs,
    weights_only_error = weightsOnlyError,
    samples_seconds = samples,
    samples_page_faults = faults,
    summary_seconds = summary,
    ratios,
    goals,
};
string json = Path.Combine(results, "load.json");
BenchProcess.WriteReport(json, report, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
Console.WriteLine($"\nwrote {Path.GetRelativePath(repo, json)}");
return 0;

// One timed load; the tensors are disposed after the clock stops (torch.load's are freed after its clock too).
// A fresh load trims first, then leaves its own pages mapped for the next reused load (nothing else here trims).
static Sample TimeOurs(string file, bool fresh, bool verify)
{
    if (fresh) Libc.ReleaseFreedMemory();
    Checkpoint? checkpoint = null;
    StateDict? state = null;
    var sample = Measure(() =>
    {
        checkpoint = Checkpoint.Load(file, new CheckpointLoadOptions { VerifyChecksums = verify });
        state = checkpoint.TakeStateDict();
    });
    state!.Dispose();
    checkpoint!.Dispose();
    return sample;
}

static (int Tensors, long Bytes) CountOurs(string file)
{
    using var state = StateDict.Load(file);
    return (state.Count, state.Values.Sum(t => t.NumberOfElements * t.ElementSize));
}

// Wall time, and the page faults the process took meanwhile (each one a new page: the cost 'fresh' measures).
static Sample Measure(Action action)
{
    long faults = BenchProcess.MinorPageFaults();
    long start = Stopwatch.GetTimestamp();
    action();
    var elapsed = Stopwatch.GetElapsedTime(start);
    return new Sample(elapsed.TotalSeconds, BenchProcess.MinorPageFaults() - faults);
}

static Sample FromPeer((double Seconds, long Faults, int, long) load) => new(load.Seconds, load.Faults);

static long Median(List<long> values) => values.Order().ElementAt(values.Count / 2);

// The floor with fresh memory: a new buffer filled by the kernel's copy. Over the mmap threshold, so its pages
// are always new; no malloc_trim here, which would also take the heap pages our next 'reused' load expects.
static unsafe Sample ReadIntoNewBuffer(string file, long bytes)
{
    void* buffer = null;
    var sample = Measure(() =>
    {
        buffer = NativeMemory.Alloc((nuint)bytes);
        ReadInto(file, new Span<byte>(buffer, checked((int)bytes)));
    });
    NativeMemory.Free(buffer);
    return sample;
}

// The floor with reused memory: the kernel's copy from the page cache into pages already mapped.
static void ReadInto(string file, Span<byte> buffer)
{
    using var handle = File.OpenHandle(file);
    for (int done = 0; done < buffer.Length;)
    {
        int n = RandomAccess.Read(handle, buffer[done..], done);
        if (n <= 0) throw new EndOfStreamException(file);
        done += n;
    }
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

/// <summary>One way of loading; Run loads once and says what it cost.</summary>
record Loader(string Name, Func<Sample> Run);

record Sample(double Seconds, long PageFaults);

