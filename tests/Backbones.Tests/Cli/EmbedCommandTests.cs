using System.Diagnostics;
using Backbones.Models;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using Backbones.Transfer;
using Backbones.Tests.Vision;

namespace Backbones.Tests.Cli;

/// <summary><c>embed</c>: a folder in stable order, the progress bar, unreadable images skipped, and a killed run resumed.</summary>
public sealed class EmbedCommandTests
{
    static string Cli => Path.Combine(Repository.Root, "src", "Backbones.Cli", "bin", Repository.Configuration, "net10.0", "backbones.dll");

    static string Folder(int copies, params string[] broken)
    {
        string folder = TempFolder.Create("embed-cli");
        string[] names = ["rgb.png", "baseline.jpg", "palette.gif", "rgb24.bmp"];
        for (int i = 0; i < copies; i++)
        {
            string name = names[i % names.Length];
            string target = Path.Combine(folder, $"d{i % 3}", $"{i:D3}{Path.GetExtension(name)}");
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(ReferenceImages.Path(name), target);
        }
        foreach (var b in broken) File.Copy(ReferenceImages.Path(b), Path.Combine(folder, "d0", "broken-" + b));
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "not an image, not listed");
        return folder;
    }

    [Fact]
    public void FolderToCsvWithProgressBarSkippingUnreadableImages()
    {
        string folder = Folder(7, "truncated.jpg", "text.jpg");
        string output = Path.Combine(TempFolder.Create("embed-out"), "vectors.csv");
        var (code, stdout, stderr) = CliRunner.Run("embed", "resnet18", folder, "-o", output, "--batch", "4", "--resize", "40", "--crop", "32");
        Assert.True(code == 0, stderr);

        var rows = File.ReadAllLines(output);
        Assert.Equal("path," + string.Join(",", Enumerable.Range(0, 512).Select(i => $"v{i}")), rows[0]);
        Assert.Equal(["d0/000.png", "d0/003.bmp", "d0/006.gif", "d1/001.jpg", "d1/004.png", "d2/002.gif", "d2/005.jpg"],
            rows.Skip(1).Select(r => r[..r.IndexOf(',')]));
        Assert.All(rows.Skip(1), r => Assert.Equal(513, r.Split(',').Length));
        Assert.Contains("] 9/9  ", stderr);
        Assert.Contains("images/s  2 unreadable", stderr);
        Assert.Contains($"skipped {Path.Combine(folder, "d0", "broken-text.jpg")}: not a JPEG, PNG", stderr);
        Assert.Contains($"skipped {Path.Combine(folder, "d0", "broken-truncated.jpg")}: cannot decode JPEG", stderr);
        Assert.StartsWith($"wrote {output}: 7 vectors of 512 (7 embedded now), 2 unreadable images skipped", stdout);
    }

    [Fact]
    public void UnknownOutputFormatIsRefused()
    {
        var (code, _, stderr) = CliRunner.Run("embed", "resnet18", Folder(1), "-o", "vectors.parquet");
        Assert.Equal(2, code);
        Assert.Contains("the output must end in .safetensors, .npy, .csv", stderr);
    }

    /// <summary>A real interruption: the process is killed (SIGKILL) once two batches are on disk; the next run resumes.</summary>
    [Fact]
    public void RunKilledMidwayResumesWhereItStopped()
    {
        string folder = Folder(120);
        string work = TempFolder.Create("embed-kill");
        string weights = Path.Combine(work, "resnet50.safetensors");
        using (var model = ModelZoo.Create("resnet50"))
        {
            var state = new PyDict { Ordered = true };
            foreach (var (key, value) in model.OrderedStateDict()) state[key] = value;
            Checkpoint.Save(weights, state);
        }
        string output = Path.Combine(work, "vectors.npy");
        string[] args = [Cli, "embed", "resnet50", "--weights", weights, folder, "-o", output, "--batch", "2", "--workers", "1", "--resize", "96", "--crop", "96"];
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        int partsAtKill;
        using (var first = Process.Start(start)!)
        {
            var firstError = first.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            _ = first.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            var clock = Stopwatch.StartNew();
            while (Parts(output) < 2 && !first.HasExited && clock.Elapsed < TimeSpan.FromMinutes(3)) Thread.Sleep(10);
            Assert.False(first.HasExited, "the first run ended before it could be interrupted: " + (first.HasExited ? firstError.Result : ""));
            first.Kill();
            first.WaitForExit();
            partsAtKill = Parts(output);
        }
        Assert.False(File.Exists(output));

        var (code, stdout, stderr) = PyTorch.Run("dotnet", args, 600);
        Assert.True(code == 0, stderr);
        Assert.Matches(@$"wrote .*vectors\.npy: 120 vectors of 2048 \(\d+ embedded now, {2 * partsAtKill} from an interrupted run\)", stdout);
        Assert.Contains($"({2 * partsAtKill} resumed)", stderr);
        Assert.Equal(120, File.ReadAllLines(Path.ChangeExtension(output, ".paths.txt")).Length);
        Assert.Equal(10 + 118 + 120 * 2048 * 4, new FileInfo(output).Length);
        Assert.False(Directory.Exists(output + ".parts"));
    }

    static int Parts(string output) => Directory.Exists(output + ".parts") ? Directory.GetFiles(output + ".parts", "part-*.safetensors").Length : 0;
}
