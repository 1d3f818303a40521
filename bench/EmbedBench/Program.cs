// EmbedBench: `embed` end to end (list the folder, decode JPEGs, resize/crop/normalise, ResNet-50 forward, write
// .npy), images/s, ours (ImageEmbedder.Run after NativeHeap.KeepFreedMemory(), the library path of `backbones embed`)
// against the PyTorch script a user would write (peers/torch_embed.py: torchvision read_image + transforms, DataLoader
// with 2 workers, inference_mode), and the same script with glibc told what NativeHeap tells it (environment
// variables), same folder, same random weights, same batch, measured round by round in one run.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Backbones.Models;
using Backbones.Vision;

const string Python = "/usr/bin/python3"; // Debian's, which has torch; the python3 on PATH has not
int images = 1000, rounds = 3, batch = 32, workers = 2;
for (int i = 0; i < args.Length; i += 2)
{
    string? value = i + 1 < args.Length ? args[i + 1] : null;
    bool ok = args[i] switch
    {
        "--images" => int.TryParse(value, out images) && images > 0,
        "--rounds" => int.TryParse(value, out rounds) && rounds > 0,
        "--batch" => int.TryParse(value, out batch) && batch > 0,
        "--workers" => int.TryParse(value, out workers) && workers > 0,
        _ => false,
    };
    if (!ok)
    {
        Console.Error.WriteLine("usage: EmbedBench [--images 1000] [--rounds 3] [--batch 32] [--workers 2]");
        return 2;
    }
}

string repo = BenchProcess.FindRepo();
string results = Path.Combine(repo, "bench", "results");
string data = Path.Combine(results, "data");
string folder = Path.Combine(data, $"embed-{images}");
string weights = Path.Combine(data, "resnet50.pth");
string scratch = Directory.CreateTempSubdirectory("embedbench").FullName;
Prepare();

var loadStart = BenchProcess.LoadAverage();
var preprocessing = ImagePreprocessing.For("resnet50", "IMAGENET1K_V2"); // 232 / 224, bilinear, antialiased
var files = ImageFile.List(folder);
Console.WriteLine($"{files.Count} JPEGs in {folder}; ResNet-50, batch {batch}, {workers} decoding workers; {preprocessing}");
Console.WriteLine($"{Environment.ProcessorCount} cores; load average at start: {loadStart}");

using var embedder = ImageEmbedder.Create(ModelZoo.Create("resnet50", new ModelOptions { Weights = weights }), preprocessing);
Backbones.Runtime.NativeHeap.KeepFreedMemory();
int defaultThreads = TorchSharp.torch.get_num_threads();
Console.WriteLine($"ours: libtorch {TorchSharp.torch.__version__}, {defaultThreads} threads by default; 'ours 1t' sets 1 (embed --threads 1)");
// What NativeHeap.KeepFreedMemory sets, as glibc reads it from the environment of a new process.
var heapEnvironment = new Dictionary<string, string> { ["MALLOC_MMAP_MAX_"] = "0", ["MALLOC_TRIM_THRESHOLD_"] = int.MaxValue.ToString() };
string[] engines = ["ours", "ours 1t", "torch", "torch+heap"];
var samples = engines.ToDictionary(e => e, _ => new List<double>());
var loads = new List<string>();
for (int round = 0; round < rounds; round++)
{
    // Alternate who goes first, so drift in the machine's load hits both alike.
    foreach (var engine in engines.Skip(round % engines.Length).Concat(engines.Take(round % engines.Length)))
    {
        string output = Path.Combine(scratch, $"{engine}-{round}.npy");
        double seconds = engine.StartsWith("ours") ? Ours(output, engine == "ours 1t" ? 1 : defaultThreads) : Torch(output, engine == "torch+heap" ? heapEnvironment : null);
        samples[engine].Add(files.Count / seconds);
        Console.WriteLine($"round {round + 1}: {engine,-10} {files.Count / seconds,7:F2} images/s ({seconds:F1} s)   load {BenchProcess.LoadAverage()}");
    }
    loads.Add(BenchProcess.LoadAverage());
    if (round == 0) Compare(Path.Combine(scratch, "ours-0.npy"), Path.Combine(scratch, "torch-0.npy"));
    foreach (var f in Directory.GetFiles(scratch, "*.npy")) File.Delete(f);
}

var ratios = engines.Skip(1).ToDictionary(e => e, e => samples["ours"].Zip(samples[e], (o, t) => o / t).ToList());
string Spread(IList<double> v) => Summary.Of(v) is var s ? $"{s.Median:F2} ({s.Min:F2}-{s.Max:F2})" : "";
Console.WriteLine($"\nimages/s, median (min-max) of {rounds} rounds:");
foreach (var e in engines) Console.WriteLine($"  {e,-10} {Spread(samples[e])}");
foreach (var (e, r) in ratios) Console.WriteLine($"  ours / {e}, round by round: {Spread(r)}");
string loadEnd = BenchProcess.LoadAverage();
Console.WriteLine($"load average at end: {loadEnd}");
BenchProcess.WriteReport(Path.Combine(results, "embed.json"), new
{
    date = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
    images = files.Count, batch, workers, ours_default_threads = defaultThreads, preprocessing = preprocessing.ToString(), cores = Environment.ProcessorCount,
    load_start = loadStart, load_after_round = loads, load_end = loadEnd,
    images_per_second = samples, ratio_ours_over = ratios,
    median = samples.ToDictionary(kv => kv.Key, kv => Summary.Of(kv.Value).Median),
    median_ratio = ratios.ToDictionary(kv => kv.Key, kv => Summary.Of(kv.Value).Median),
});
Directory.Delete(scratch, recursive: true);
return 0;

double Ours(string output, int threads)
{
    TorchSharp.torch.set_num_threads(threads);
    var clock = Stopwatch.StartNew();
    var report = embedder.Run(ImageFile.List(folder), output, new EmbedOptions { Pipeline = new() { BatchSize = batch, Workers = workers } });
    clock.Stop();
    if (report.Unreadable.Count > 0) throw new InvalidOperationException($"unreadable: {string.Join("; ", report.Unreadable)}");
    return clock.Elapsed.TotalSeconds;
}

double Torch(string output, Dictionary<string, string>? environment)
{
    var (code, stdout, stderr) = Run(Python, environment, [Path.Combine(repo, "bench", "peers", "torch_embed.py"), folder, weights, output,
        "--batch", batch.ToString(), "--workers", workers.ToString(), "--resize", preprocessing.ResizeSize.ToString(), "--crop", preprocessing.CropSize.ToString()]);
    if (code != 0) throw new InvalidOperationException($"torch_embed.py failed ({code}): {stderr}");
    using var doc = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
    return doc.RootElement.GetProperty("seconds").GetDouble();
}

// The same vectors, or the comparison means nothing: relative L2 of every row within 1e-4.
void Compare(string ours, string theirs)
{
    var a = Npy(ours);
    var b = Npy(theirs);
    if (a.Length != b.Length) throw new InvalidOperationException($"ours has {a.Length} values, torch {b.Length}");
    int width = 2048;
    double worst = 0;
    for (int r = 0; r < a.Length / width; r++)
    {
        double diff = 0, norm = 0;
        for (int c = r * width; c < (r + 1) * width; c++)
        {
            diff += (double)(a[c] - b[c]) * (a[c] - b[c]);
            norm += (double)b[c] * b[c];
        }
        worst = Math.Max(worst, Math.Sqrt(diff / norm));
    }
    Console.WriteLine($"vectors: worst relative L2 of a row, ours against torch: {worst:G3}");
    if (worst > 1e-4) throw new InvalidOperationException("ours and torch's vectors differ by more than 1e-4");
}

static float[] Npy(string path)
{
    var bytes = File.ReadAllBytes(path);
    int header = bytes[8] | bytes[9] << 8;
    string dict = System.Text.Encoding.ASCII.GetString(bytes, 10, header);
    if (!dict.Contains("'<f4'")) throw new InvalidOperationException($"{path}: not float32 ({dict})");
    return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes.AsSpan(10 + header)).ToArray();
}

void Prepare()
{
    Directory.CreateDirectory(data);
    if (!File.Exists(weights))
    {
        var made = Run(Python, null, [Path.Combine(repo, "tests", "reference", "write_torchvision_state_dicts.py"), scratch, "resnet50"]);
        if (made.Code != 0) throw new InvalidOperationException(made.Error);
        File.Move(Path.Combine(scratch, "resnet50.pth"), weights);
    }
    var jpegs = Run(Python, null, [Path.Combine(repo, "bench", "peers", "make_jpegs.py"), folder, images.ToString()]);
    if (jpegs.Code != 0) throw new InvalidOperationException(jpegs.Error);
}

static (int Code, string Output, string Error) Run(string program, Dictionary<string, string>? environment, IEnumerable<string> arguments)
{
    var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
    foreach (var a in arguments) start.ArgumentList.Add(a);
    foreach (var (k, v) in environment ?? []) start.Environment[k] = v;
    using var process = Process.Start(start)!;
    var output = process.StandardOutput.ReadToEndAsync();
    var error = process.StandardError.ReadToEndAsync();
    process.WaitForExit();
    return (process.ExitCode, output.Result, error.Result);
}

