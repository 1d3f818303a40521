using System.Diagnostics;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using static TorchSharp.torch;

namespace Backbones.Tests.Serialization;

/// <summary>Truncated, bit-flipped and fuzzed files give the library's own format error, never another exception or a hang.</summary>
public sealed class CorruptFileTests
{
    [Fact]
    public void ReportsTheCorruptedStorageWhenADataBitFlips()
    {
        string path = OwnZipCheckpoint();
        var bytes = File.ReadAllBytes(path);
        int dataAt = IndexOf(bytes, "archive/data/0"u8) + "archive/data/0"u8.Length;
        dataAt += (64 - dataAt % 64) % 64 + 3; // into the 64-byte-aligned data of storage 0
        bytes[dataAt] ^= 0x10;
        File.WriteAllBytes(path, bytes);
        var e = Assert.ThrowsAny<CheckpointFormatException>(() => Checkpoint.Load(path));
        Assert.Equal("archive/data/0", e.Entry);
        Assert.StartsWith("CRC-32 mismatch", e.Problem);
    }

    [Fact]
    public void EveryTruncationOfEveryFormatIsAFormatError()
    {
        var files = new List<string> { OwnZipCheckpoint(), OwnSafeTensors() };
        if (PyTorch.Available)
            files.AddRange(new[] { "dtypes_legacy.pth", "tar_format.pth", "setstate_legacy.pth", "wrapped.pth" }.Select(ReferenceFiles.Path));
        string folder = TempFolder.Create("truncated");
        foreach (var file in files)
        {
            var bytes = File.ReadAllBytes(file);
            // Cuts only before the trailing zeros: a tar keeps a complete archive when its end padding is cut.
            int meaningful = bytes.AsSpan().LastIndexOfAnyExcept((byte)0) + 1;
            foreach (int length in Enumerable.Range(0, 64).Select(i => (int)((long)meaningful * i / 64)).Distinct())
            {
                string cut = Path.Combine(folder, $"{Path.GetFileName(file)}.{length}");
                File.WriteAllBytes(cut, bytes[..length]);
                var e = Record.Exception(() => Checkpoint.Load(cut).Dispose());
                var format = Assert.IsType<CheckpointFormatException>(e, exactMatch: false);
                Assert.Equal(cut, format.File);
            }
        }
    }

    [Fact]
    public void FuzzedFilesLoadOrFailWithAFormatError()
    {
        var seeds = new List<byte[]> { File.ReadAllBytes(OwnZipCheckpoint()), File.ReadAllBytes(OwnSafeTensors()) };
        if (PyTorch.Available)
            seeds.AddRange(new[] { "dtypes_zip.pth", "dtypes_legacy.pth", "tar_format.pth", "setstate_legacy.pth", "wrapped.pth", "parameter.pth" }
                .Select(f => File.ReadAllBytes(ReferenceFiles.Path(f))));
        string path = Path.Combine(TempFolder.Create("fuzz"), "fuzzed.pth");
        var random = new Random(20261123);
        var clock = Stopwatch.StartNew();
        int cases = 0, loaded = 0;
        for (; cases < 4000 && clock.Elapsed < TimeSpan.FromSeconds(90); cases++)
        {
            var seed = seeds[random.Next(seeds.Count)];
            var mutated = Mutate(seed, random);
            File.WriteAllBytes(path, mutated);
            try
            {
                using var checkpoint = Checkpoint.Load(path);
                loaded++;
            }
            catch (CheckpointFormatException)
            {
            }
            catch (Exception e)
            {
                File.WriteAllBytes(path + ".failing", mutated);
                Assert.Fail($"case {cases}: {e.GetType().Name} escaped: {e.Message} (input kept at {path}.failing)");
            }
        }
        Assert.True(cases >= 3000, $"only {cases} cases ran in the time allowed");
        Assert.InRange(loaded, 1, cases - 1); // mutations both kept files readable and broke them
    }

    static byte[] Mutate(byte[] seed, Random random)
    {
        var b = (byte[])seed.Clone();
        switch (random.Next(5))
        {
            case 0: // flip a few bits
                for (int i = random.Next(1, 5); i > 0; i--) b[random.Next(b.Length)] ^= (byte)(1 << random.Next(8));
                return b;
            case 1: // set a byte to an edge value
                b[random.Next(b.Length)] = (byte)(new[] { 0, 0x7f, 0x80, 0xff }[random.Next(4)]);
                return b;
            case 2: // write a large integer somewhere (sizes, counts, offsets)
                int at = random.Next(Math.Max(1, b.Length - 8));
                BitConverter.GetBytes(random.Next(2) == 0 ? long.MaxValue >> random.Next(40) : -random.Next(1000)).AsSpan(0, Math.Min(8, b.Length - at)).CopyTo(b.AsSpan(at));
                return b;
            case 3: // cut it short
                return b[..random.Next(b.Length)];
            default: // repeat a slice
                int start = random.Next(b.Length), length = random.Next(1, Math.Min(64, b.Length - start) + 1);
                return [.. b[..(start + length)], .. b[start..(start + length)], .. b[(start + length)..]];
        }
    }

    /// <summary>A small zip checkpoint of our own, so these tests run with or without PyTorch.</summary>
    internal static string OwnZipCheckpoint()
    {
        string path = Path.Combine(TempFolder.Create("own"), "own.pth");
        using var scope = NewDisposeScope();
        var w = arange(12, ScalarType.Float32).reshape(3, 4);
        var dict = new PyDict { Ordered = true };
        dict["w"] = w;
        dict["w_t"] = w.t();
        dict["steps"] = tensor(7L);
        dict["mask"] = tensor(new[] { true, false });
        dict["epoch"] = 3L;
        dict["name"] = "own";
        dict["lr"] = 0.5;
        Checkpoint.Save(path, dict);
        return path;
    }

    internal static string OwnSafeTensors()
    {
        string path = Path.Combine(TempFolder.Create("own"), "own.safetensors");
        using var scope = NewDisposeScope();
        var dict = new PyDict { Ordered = true };
        dict["a"] = arange(6, ScalarType.Float32).reshape(2, 3);
        dict["b"] = tensor(new long[] { -1, 1 << 20 });
        Checkpoint.Save(path, dict, metadata: new Dictionary<string, string> { ["format"] = "pt" });
        return path;
    }

    static int IndexOf(byte[] haystack, ReadOnlySpan<byte> needle) => haystack.AsSpan().IndexOf(needle);
}
