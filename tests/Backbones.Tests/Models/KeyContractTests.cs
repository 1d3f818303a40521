using Backbones.Models;
using Backbones.Serialization;
using Backbones.Tests.Support;
using Backbones.Transfer;

namespace Backbones.Tests.Models;

/// <summary>Every registered model's state-dict keys, shapes, dtypes and parameter count equal torchvision's (../shared/data).</summary>
public sealed class KeyContractTests
{
    public static TheoryData<string> Registered => new(ModelZoo.List());

    [Theory]
    [MemberData(nameof(Registered))]
    public void StateDictKeysAndShapesAreTorchvisions(string name)
    {
        var contract = StateDictContract.Of(name);
        using var model = ModelZoo.Create(name);
        var ours = model.OrderedStateDict().Select(kv => (kv.Key, string.Join(",", kv.Value.shape), TorchDType.Of(kv.Value.dtype).Name)).ToList();
        Assert.Equal(contract.Keys.Select(k => (k.Name, string.Join(",", k.Shape), k.DType)), ours);
        Assert.Equal(contract.NumParams, model.parameters().Sum(p => p.NumberOfElements));
        var keys = ours.Select(o => o.Key).ToHashSet();
        Assert.Contains(model.ClassifierPath + ".weight", keys);
        Assert.Contains(model.FirstConvPath + ".weight", keys);
    }

    [Fact]
    public void TheRegistryHoldsEveryArchitectureTheContractLists()
    {
        Assert.Equal(StateDictContract.Names.Order(StringComparer.Ordinal), ModelZoo.List());
    }
}
