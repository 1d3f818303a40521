using Backbones.Serialization;
using Backbones.Tests.Serialization;
using Backbones.Tests.Support;

namespace Backbones.Tests.Cli;

/// <summary><c>backbones convert</c>: the seed recipe "drop the classifier keys and re-save", checked by real PyTorch.</summary>
public sealed class ConvertCommandTests
{
    [Fact]
    public void DropsTheClassifierAndPyTorchReadsTheRest()
    {
        string python = PyTorch.Require();
        string folder = TempFolder.Create("convert");
        string ours = Path.Combine(folder, "headless.pth");
        var (code, output, error) = CliRunner.Run("convert", ReferenceFiles.Path("resnet18_zip.pth"), ours, "--drop", @"^fc\.");
        Assert.True(code == 0, error);
        Assert.Equal(new[] { "dropped fc.weight", "dropped fc.bias", $"wrote {ours} (PthZip, 120 tensors)" }, output.TrimEnd().Split(Environment.NewLine));

        string reference = Path.Combine(folder, "reference.pth");
        var (pyCode, pyOut, pyErr) = PyTorch.Run(python, ["-c", """
import sys, torch
sd = torch.load(sys.argv[1])
for k in ['fc.weight', 'fc.bias']: del sd[k]
torch.save(sd, sys.argv[2])
""", ReferenceFiles.Path("resnet18_zip.pth"), reference]);
        Assert.True(pyCode == 0, pyOut + pyErr);
        RoundTripTests.AssertPyTorchAgrees(ours, reference);
    }

    [Fact]
    public void SelectsRenamesAndWritesSafeTensors()
    {
        PyTorch.Require();
        string ours = Path.Combine(TempFolder.Create("convert"), "tiny.safetensors");
        var (code, output, error) = CliRunner.Run("convert", ReferenceFiles.Path("wrapped.pth"), ours,
            "--select", "state_dict", "--rename", @"^0\.=conv.", "--rename", @"^4\.=fc.", "--drop", "num_batches_tracked");
        Assert.True(code == 0, error);
        Assert.Contains("dropped 1.num_batches_tracked", output);
        Assert.Contains("renamed 0.weight -> conv.weight", output);
        Assert.Contains("renamed 4.bias -> fc.bias", output);
        using var back = Checkpoint.Load(ours);
        Assert.Equal(CheckpointFormat.SafeTensors, back.Format);
        Assert.Equal(new[] { "conv.weight", "conv.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "fc.weight", "fc.bias" },
            back.Leaves().Select(l => l.Key));
    }

    [Fact]
    public void BadPatternIsAUsageErrorThatWritesNothing()
    {
        string input = CorruptFileTests.OwnZipCheckpoint();
        string output = Path.Combine(TempFolder.Create("convert"), "out.pth");
        var (code, _, error) = CliRunner.Run("convert", input, output, "--drop", "([unclosed");
        Assert.Equal(2, code);
        Assert.StartsWith("error: --drop '([unclosed' is not a valid regular expression", error);
        Assert.False(File.Exists(output));
    }
}
