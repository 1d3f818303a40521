using System.Runtime.InteropServices;
using Backbones.Runtime;
using Backbones.Tests.Support;
using TorchSharp;

namespace Backbones.Tests.Runtime;

/// <summary>
/// TorchSharp's native library loads on this machine with no manual step: on a libstdc++ without GLIBCXX_3.4.32
/// through a copy whose marker-only version need is weak, and untouched where the system has that version.
/// </summary>
public sealed class LibtorchLoadingTests
{
    static string TorchSharpNative =>
        Path.Combine(Path.GetDirectoryName(typeof(torch).Assembly.Location)!, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

    [Fact]
    public void FindsTheMarkerOnlyVersionNeedOfLibTorchSharp()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "ELF checks run on Linux only");
        var image = File.ReadAllBytes(TorchSharpNative);
        var need = ElfVersionNeeds.ReadNeeds(image).Single(n => n.Version == "GLIBCXX_3.4.32");
        Assert.Equal("libstdc++.so.6", need.File);
        Assert.False(need.IsWeak);
        Assert.Equal(new[] { "_ZSt21ios_base_library_initv" }, ElfVersionNeeds.SymbolsOfVersion(image, need.Index));
        Assert.Contains("libtorch.so", ElfVersionNeeds.ReadNeededLibraries(image));
    }

    [Fact]
    public void PatchesOnlyWhenTheSystemLacksTheVersion()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "ELF checks run on Linux only");
        Libtorch.EnsureLoaded();
        using var t = torch.ones(3);
        Assert.Equal(3f, t.sum().item<float>());

        string libstdcxx = File.ReadLines("/proc/self/maps").Select(l => l[(l.IndexOf('/') is var i && i >= 0 ? i : l.Length)..].Trim())
            .First(p => p.Contains("/libstdc++.so.6", StringComparison.Ordinal));
        bool systemHasIt = ElfVersionNeeds.ReadDefinitions(File.ReadAllBytes(libstdcxx)).Contains("GLIBCXX_3.4.32");
        if (systemHasIt)
        {
            Assert.Null(Libtorch.PatchedLibraryPath);
            return;
        }
        string patched = Assert.IsType<string>(Libtorch.PatchedLibraryPath);
        var original = File.ReadAllBytes(TorchSharpNative);
        var copy = File.ReadAllBytes(patched);
        // The copy differs from the original in exactly one byte: the weak flag of that one need.
        var differing = Enumerable.Range(0, original.Length).Where(i => original[i] != copy[i]).ToList();
        var need = ElfVersionNeeds.ReadNeeds(copy).Single(n => n.Version == "GLIBCXX_3.4.32");
        Assert.Equal(original.Length, copy.Length);
        Assert.Equal(new[] { need.FlagsOffset }, differing);
        Assert.True(need.IsWeak);
    }

    [Fact]
    public void MarkWeakSetsOnlyTheWeakBit()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "ELF checks run on Linux only");
        var image = File.ReadAllBytes(TorchSharpNative);
        var before = ElfVersionNeeds.ReadNeeds(image);
        ElfVersionNeeds.MarkWeak(image, before.Where(n => n.Version == "GLIBCXX_3.4.30"));
        var after = ElfVersionNeeds.ReadNeeds(image);
        Assert.Equal(before.Select(n => n.Version), after.Select(n => n.Version));
        Assert.All(after.Zip(before), p => Assert.Equal(p.Second.Flags | (p.First.Version == "GLIBCXX_3.4.30" ? 2 : 0), p.First.Flags));
    }

    [Fact]
    public void TheBuiltCommandRunsInAFreshProcess()
    {
        // A new process proves the loader works from a clean start, as `dotnet run` and a published CLI do.
        string cli = Path.Combine(Repository.Root, "src", "Backbones.Cli", "bin", Repository.Configuration, "net10.0", "backbones.dll");
        Assert.True(File.Exists(cli), $"{cli} not built");
        string file = Serialization.CorruptFileTests.OwnZipCheckpoint();
        var (code, output, error) = PyTorch.Run("dotnet", [cli, "inspect", file, "--json"], 120);
        Assert.True(code == 0, error);
        Assert.Contains("\"format\": \"pth-zip\"", output);
        Assert.Contains("\"key\": \"w_t\"", output);
    }

    [Fact]
    public void AProgramThatOnlyReferencesTheLibraryLoadsLibtorch()
    {
        string sample = Path.Combine(Repository.Root, "samples", "DropClassifier", "bin", Repository.Configuration, "net10.0", "DropClassifier.dll");
        Assert.True(File.Exists(sample), $"{sample} not built");
        string output = Path.Combine(TempFolder.Create("sample"), "headless.safetensors");
        var (code, stdout, error) = PyTorch.Run("dotnet", [sample, Path.Combine(Repository.Root, "samples", "checkpoints", "tiny_cnn.pth"), output], 120);
        Assert.True(code == 0, stdout + error);
        Assert.Equal(new[] { "dropped fc.weight", "dropped fc.bias", $"wrote {output}: 18 tensors, 4,848 parameters" }, stdout.TrimEnd().Split('\n'));
    }
}
