using System.Text.Json;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using Backbones.Tests.Support;
using static TorchSharp.torch;

namespace Backbones.Tests.Serialization;

/// <summary>What we write, real PyTorch reads back with torch.load(weights_only=True), identical to what it wrote.</summary>
public sealed class RoundTripTests
{
    // tar_format.pth is left out: PyTorch 1.13 gives a tar storage view a storage of its own, so sharing and
    // offsets legitimately differ from a file written today, which has no storage views.
    public static TheoryData<string> Files => new(ReferenceFiles.Readable.Where(f => f != "tar_format.pth"));

    [Theory]
    [MemberData(nameof(Files))]
    public void PyTorchReadsBackWhatWeRewrite(string name)
    {
        PyTorch.Require();
        string ours = Path.Combine(TempFolder.Create("roundtrip"), name);
        using (var checkpoint = Checkpoint.Load(ReferenceFiles.Path(name)))
            Checkpoint.Save(ours, checkpoint.Root);
        AssertPyTorchAgrees(ours, ReferenceFiles.Path(name), "--parameters-as-tensors");
    }

    [Fact]
    public void PyTorchReadsEveryDtypeViewAndSharedStorageWeCreate()
    {
        string python = PyTorch.Require();
        string folder = TempFolder.Create("ours");
        string ours = Path.Combine(folder, "ours.pth");
        using (var scope = NewDisposeScope())
        {
            var dict = new PyDict { Ordered = true };
            var baseTensor = arange(24, ScalarType.Float32).reshape(4, 6);
            dict["base"] = baseTensor;
            dict["t"] = baseTensor.t();
            dict["rows"] = baseTensor.narrow(0, 1, 2);
            dict["f16"] = linspace(-2, 2, 5).to(ScalarType.Float16);
            dict["bf16"] = linspace(-2, 2, 5).to(ScalarType.BFloat16);
            dict["f64"] = tensor(new[] { Math.PI, -0.0, double.Epsilon });
            dict["i64"] = tensor(new[] { long.MinValue, 0L, 1L << 40 });
            dict["i8"] = tensor(new sbyte[] { -128, 0, 127 });
            dict["u8"] = tensor(new byte[] { 0, 1, 255 });
            dict["bool"] = tensor(new[] { true, false, true });
            dict["c64"] = complex(tensor(new[] { 1f, 2f }), tensor(new[] { -1f, 0.5f }));
            dict["scalar"] = tensor(3L);
            dict["empty"] = zeros(0, 3);
            Checkpoint.Save(ours, dict);
        }
        // PyTorch writes the reference from the same values, independently of our writer.
        string reference = Path.Combine(folder, "reference.pth");
        var (code, output, error) = PyTorch.Run(python, ["-c", """
import math, sys, torch
from collections import OrderedDict
base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
d = OrderedDict()
d['base'] = base; d['t'] = base.t(); d['rows'] = base.narrow(0, 1, 2)
d['f16'] = torch.linspace(-2, 2, 5).half(); d['bf16'] = torch.linspace(-2, 2, 5).bfloat16()
d['f64'] = torch.tensor([math.pi, -0.0, 5e-324], dtype=torch.float64)
d['i64'] = torch.tensor([-2**63, 0, 2**40]); d['i8'] = torch.tensor([-128, 0, 127], dtype=torch.int8)
d['u8'] = torch.tensor([0, 1, 255], dtype=torch.uint8); d['bool'] = torch.tensor([True, False, True])
d['c64'] = torch.complex(torch.tensor([1., 2.]), torch.tensor([-1., 0.5]))
d['scalar'] = torch.tensor(3); d['empty'] = torch.zeros(0, 3)
torch.save(d, sys.argv[1])
""", reference]);
        Assert.True(code == 0, output + error);
        AssertPyTorchAgrees(ours, reference);
    }

    internal static void AssertPyTorchAgrees(string ours, string reference, params string[] options)
    {
        var (code, output, error) = PyTorch.RunScript("verify_checkpoint.py", [ours, reference, .. options]);
        using var result = JsonDocument.Parse(output);
        Assert.True(code == 0 && result.RootElement.GetProperty("ok").GetBoolean(),
            $"PyTorch disagrees with {ours}:\n{output}\n{error}");
    }
}
