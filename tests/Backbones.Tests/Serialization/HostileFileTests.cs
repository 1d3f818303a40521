using System.Text;
using Backbones.Serialization;
using Backbones.Serialization.Archives;
using Backbones.Tests.Support;

namespace Backbones.Tests.Serialization;

/// <summary>Files that try to run code, or that lie about their sizes, are refused with an error naming file and entry.</summary>
public sealed class HostileFileTests
{
    [Fact]
    public void RefusesPickleThatCallsOsSystem()
    {
        PyTorch.Require();
        string path = ReferenceFiles.Path("hostile_os_system.pth");
        var unsafeGlobal = ReferenceFiles.Manifest("hostile_os_system.pth").GetProperty("unsafe_global");
        var e = Assert.Throws<UnsafePickleException>(() => Checkpoint.Load(path));
        Assert.Equal(unsafeGlobal.GetProperty("module").GetString(), e.Module);
        Assert.Equal(unsafeGlobal.GetProperty("name").GetString(), e.Name);
        Assert.Equal(path, e.File);
        Assert.EndsWith("/data.pkl (pickle offset 13)", e.Entry);
        Assert.False(File.Exists(ReferenceFiles.MarkerPath), "the command in the pickle ran");
    }

    [Theory]
    [InlineData("builtins", "eval")]
    [InlineData("__builtin__", "getattr")]
    [InlineData("subprocess", "Popen")]
    [InlineData("torch", "load")]
    [InlineData("torch.nn.modules.linear", "Linear")]
    public void RefusesGlobalsOutsideTheAllowList(string module, string name)
    {
        // GLOBAL module name, a string argument, TUPLE1, REDUCE, STOP
        var pickle = Concat([0x80, 2], Ascii($"c{module}\n{name}\n"), [(byte)'X', 4, 0, 0, 0], Ascii("echo"), [0x85, (byte)'R', (byte)'.']);
        string path = WriteZipCheckpoint(pickle);
        var e = Assert.Throws<UnsafePickleException>(() => Checkpoint.Load(path));
        Assert.Equal((module, name), (e.Module, e.Name));
        Assert.Equal("archive/data.pkl (pickle offset 2)", e.Entry);
    }

    [Theory]
    [InlineData(new byte[] { 0x80, 2, (byte)'i', (byte)'o', (byte)'s', 10, (byte)'s', 10, (byte)'.' }, "arbitrary class instances")]
    [InlineData(new byte[] { 0x80, 2, 0x82, 1, (byte)'.' }, "extension-registry")]
    [InlineData(new byte[] { 0x80, 2, (byte)'h', 7, (byte)'.' }, "memo entry 7 read before it was written")]
    [InlineData(new byte[] { 0x80, 2, (byte)'X', 0xff, 0xff, 0xff, 0x7f, (byte)'.' }, "more than the")]
    [InlineData(new byte[] { 0x80, 2, (byte)'R', (byte)'.' }, "stack underflow")]
    [InlineData(new byte[] { 0x80, 2, (byte)'N' }, "truncated")]
    [InlineData(new byte[] { 0x80, 2, 0xfe, (byte)'.' }, "unknown pickle opcode 0xfe")]
    public void RefusesMalformedPickles(byte[] pickle, string problem)
    {
        string path = WriteZipCheckpoint(pickle);
        var e = Assert.ThrowsAny<CheckpointFormatException>(() => Checkpoint.Load(path));
        Assert.Contains(problem, e.Problem);
        Assert.StartsWith("archive/data.pkl (pickle offset ", e.Entry);
    }

    [Fact]
    public void RefusesStorageLargerThanItsMember()
    {
        // A state dict {'w': tensor} whose storage claims 2^40 floats while the member holds 16 bytes.
        string path = WriteZipCheckpoint(TensorPickle(numel: 1L << 40, size: 4), ("archive/data/0", new byte[16]));
        var e = Assert.ThrowsAny<CheckpointFormatException>(() => Checkpoint.Load(path));
        Assert.Equal("archive/data/0", e.Entry);
        Assert.Contains("needs 4398046511104 bytes but the member holds 16", e.Problem);
    }

    [Fact]
    public void RefusesTensorReachingPastItsStorage()
    {
        string path = WriteZipCheckpoint(TensorPickle(numel: 4, size: 5), ("archive/data/0", new byte[16]));
        var e = Assert.ThrowsAny<CheckpointFormatException>(() => Checkpoint.Load(path));
        Assert.Contains("reaches element 4 of a 4-element storage", e.Problem);
    }

    [Fact]
    public void RefusesNestingDeeperThanTheLimit()
    {
        var pickle = new List<byte> { 0x80, 2 };
        for (int i = 0; i < 100_000; i++) pickle.Add((byte)']'); // a list ...
        for (int i = 0; i < 99_999; i++) pickle.Add((byte)'a'); // ... appended into the one below it
        pickle.Add((byte)'.');
        string path = WriteZipCheckpoint(pickle.ToArray());
        var e = Assert.ThrowsAny<CheckpointFormatException>(() => Checkpoint.Load(path));
        Assert.Contains("nesting deeper than", e.Problem);
    }

    [Fact]
    public void NamesTheFileThatIsNotACheckpoint()
    {
        string path = Path.Combine(TempFolder.Create("junk"), "notes.pth");
        File.WriteAllText(path, "hello, these are not weights");
        var e = Assert.ThrowsAny<CheckpointFormatException>(() => Checkpoint.Load(path));
        Assert.Equal($"{path}: not a PyTorch checkpoint (zip, legacy or tar) nor a safetensors file", e.Message);
    }

    /// <summary>{'w': _rebuild_tensor_v2(storage '0' of numel floats, 0, (size,), (1,), False, OrderedDict())}</summary>
    internal static byte[] TensorPickle(long numel, long size) => Concat(
        [0x80, 2, (byte)'}', (byte)'('], Str("w"),
        Ascii("ctorch._utils\n_rebuild_tensor_v2\n"), [(byte)'('],
        [(byte)'('], Str("storage"), Ascii("ctorch\nFloatStorage\n"), Str("0"), Str("cpu"), Long(numel), [(byte)'t', (byte)'Q'],
        Long(0), Long(size), [0x85], Long(1), [0x85], [0x89], Ascii("ccollections\nOrderedDict\n"), [(byte)')', (byte)'R'],
        [(byte)'t', (byte)'R', (byte)'u', (byte)'.']);

    internal static string WriteZipCheckpoint(byte[] pickle, params (string Name, byte[] Data)[] members)
    {
        string path = Path.Combine(TempFolder.Create("hostile"), "model.pth");
        using var stream = File.Create(path);
        var zip = new ZipFileWriter(stream);
        zip.Add("archive/data.pkl", pickle);
        foreach (var (name, data) in members) zip.Add(name, data);
        zip.Finish();
        return path;
    }

    static byte[] Ascii(string s) => Encoding.ASCII.GetBytes(s);
    static byte[] Str(string s) => Concat([(byte)'X', (byte)s.Length, 0, 0, 0], Ascii(s));
    static byte[] Long(long v) => Concat([0x8a, 8], BitConverter.GetBytes(v));
    static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
