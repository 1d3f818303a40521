using System.Text.Json;
using Backbones.Inspection;
using Backbones.Models;
using Backbones.Tests.Support;
using static TorchSharp.torch;

namespace Backbones.Tests.Inspection;

/// <summary>
/// The module graph's content: ResNet's residual and DenseNet's dense connections edge by edge, and every node's path,
/// call count and output shape against the calls real torchvision makes (forward hooks on every module).
/// </summary>
public sealed class ModelGraphTests
{
    static ModelGraph Build(string name, int depth, long size = 224)
    {
        using var model = ModelZoo.Create(name);
        return ModelGraph.Build(model, new ModelGraphOptions { Depth = depth, InputShape = [3, size, size] });
    }

    static ModelGraphNode Module(ModelGraph graph, string path, int call = 1) =>
        graph.Nodes.Single(n => n.Kind == ModelGraphNodeKind.Module && n.Path == path && n.Call == call);

    static HashSet<(string, string)> EdgesTouching(ModelGraph graph, IEnumerable<ModelGraphNode> nodes)
    {
        var ids = nodes.Select(n => n.Id).ToHashSet();
        return graph.Edges.Where(e => ids.Contains(e.From) || ids.Contains(e.To)).Select(e => (e.From, e.To)).ToHashSet();
    }

    [Fact]
    public void ResNetBlockShowsItsLayersAndTheResidualAdd()
    {
        var graph = Build("resnet18", 3);
        var cluster = graph.Clusters.Single(c => c.Path == "layer1.0");
        Assert.Equal("BasicBlock", cluster.Type);
        Assert.Equal("layer1", graph.Clusters.Single(c => c.Id == cluster.Parent).Path);
        var block = graph.Nodes.Where(n => n.Cluster == cluster.Id).ToList();
        // torchvision's BasicBlock.forward: conv1, bn1, relu, conv2, bn2, out += identity, relu (the same module twice).
        Assert.Equal(
            [
                (ModelGraphNodeKind.Module, "layer1.0.conv1", "Conv2d", 1), (ModelGraphNodeKind.Module, "layer1.0.bn1", "BatchNorm2d", 1),
                (ModelGraphNodeKind.Module, "layer1.0.relu", "ReLU", 1), (ModelGraphNodeKind.Module, "layer1.0.conv2", "Conv2d", 1),
                (ModelGraphNodeKind.Module, "layer1.0.bn2", "BatchNorm2d", 1), (ModelGraphNodeKind.Operator, "layer1.0", "Add", 1),
                (ModelGraphNodeKind.Module, "layer1.0.relu", "ReLU", 2),
            ],
            block.Select(n => (n.Kind, n.Path, n.Type, n.Call)).ToList());
        Assert.All(block, n => Assert.Equal([1L, 64, 56, 56], n.OutputShape));

        var maxpool = Module(graph, "maxpool");
        var (conv1, bn1, relu1, conv2, bn2, add, relu2) = (block[0].Id, block[1].Id, block[2].Id, block[3].Id, block[4].Id, block[5].Id, block[6].Id);
        var next = graph.Nodes.Where(n => n.Cluster == graph.Clusters.Single(c => c.Path == "layer1.1").Id).ToList();
        // The block input (maxpool's output) reaches conv1 and the Add; bn2 reaches the Add; the output feeds layer1.1's conv1 and Add.
        Assert.Equal(
            new HashSet<(string, string)>
            {
                (maxpool.Id, conv1), (conv1, bn1), (bn1, relu1), (relu1, conv2), (conv2, bn2), (bn2, add), (maxpool.Id, add), (add, relu2),
                (relu2, next[0].Id), (relu2, next.Single(n => n.Type == "Add").Id),
            },
            EdgesTouching(graph, block));
    }

    [Fact]
    public void ResNetDownsamplingBlockAddsTheProjectedShortcut()
    {
        var graph = Build("resnet18", 3);
        var input = Module(graph, "layer1.1.relu", 2);
        var downsample = Module(graph, "layer2.0.downsample");
        Assert.Equal("Sequential", downsample.Type);
        Assert.Equal([1L, 128, 28, 28], downsample.OutputShape);
        var add = graph.Nodes.Single(n => n.Kind == ModelGraphNodeKind.Operator && n.Path == "layer2.0");
        Assert.Equal(
            new HashSet<(string, string)> { (input.Id, downsample.Id), (downsample.Id, add.Id) },
            EdgesTouching(graph, [downsample]));
        Assert.Contains(graph.Edges, e => e.From == Module(graph, "layer2.0.bn2").Id && e.To == add.Id);
        Assert.DoesNotContain(graph.Edges, e => e.From == input.Id && e.To == add.Id);
    }

    [Fact]
    public void EfficientNetAndConvNeXtBlocksShowTheirShortcutOneLevelDeeper()
    {
        // torchvision's MBConv: block, stochastic_depth, += input (stride 1, same channels; features.2.0 has stride 2).
        var efficientNet = Build("efficientnet_b0", 4, 64);
        var input = Module(efficientNet, "features.2.0.block");
        var (block, depth) = (Module(efficientNet, "features.2.1.block"), Module(efficientNet, "features.2.1.stochastic_depth"));
        var add = efficientNet.Nodes.Single(n => n.Kind == ModelGraphNodeKind.Operator && n.Path == "features.2.1");
        Assert.Equal("Add", add.Type);
        Assert.Equal(new HashSet<(string, string)> { (input.Id, block.Id), (block.Id, depth.Id), (depth.Id, add.Id), (input.Id, add.Id) },
            EdgesTouching(efficientNet, [block, depth]).Union(efficientNet.Edges.Where(e => e.To == add.Id).Select(e => (e.From, e.To))).ToHashSet());

        // torchvision's CNBlock: layer_scale * block(input), stochastic_depth, + input.
        var convNeXt = Build("convnext_tiny", 4, 64);
        var previous = convNeXt.Nodes.Single(n => n.Kind == ModelGraphNodeKind.Operator && n.Path == "features.1.0" && n.Type == "Add");
        var ops = convNeXt.Nodes.Where(n => n.Kind == ModelGraphNodeKind.Operator && n.Path == "features.1.1").ToList();
        Assert.Equal(["Mul", "Add"], ops.Select(n => n.Type));
        (block, depth) = (Module(convNeXt, "features.1.1.block"), Module(convNeXt, "features.1.1.stochastic_depth"));
        Assert.Equal(
            new HashSet<(string, string)> { (previous.Id, block.Id), (block.Id, ops[0].Id), (ops[0].Id, depth.Id), (depth.Id, ops[1].Id), (previous.Id, ops[1].Id) },
            EdgesTouching(convNeXt, [block, ops[0], depth]).Union(convNeXt.Edges.Where(e => e.To == ops[1].Id).Select(e => (e.From, e.To))).ToHashSet());
    }

    [Fact]
    public void DenseNetConcatenationsReceiveEveryEarlierLayer()
    {
        var graph = Build("densenet121", 3);
        var block = graph.Clusters.Single(c => c.Path == "features.denseblock1");
        var nodes = graph.Nodes.Where(n => n.Cluster == block.Id).ToList();
        var layers = Enumerable.Range(1, 6).Select(i => Module(graph, $"features.denseblock1.denselayer{i}")).ToList();
        var concats = nodes.Where(n => n.Kind == ModelGraphNodeKind.Operator).ToList();
        Assert.All(concats, c => Assert.Equal("Concat", c.Type));
        // One concatenation before each of layers 2..6 and the block's output: 64 channels in, 32 more per layer.
        Assert.Equal(6, concats.Count);
        for (int k = 0; k < 6; k++) Assert.Equal([1L, 64 + 32 * (k + 1), 56, 56], concats[k].OutputShape);
        Assert.All(layers, l => Assert.Equal([1L, 32, 56, 56], l.OutputShape));

        var pool0 = Module(graph, "features.pool0");
        var into = graph.Edges.ToLookup(e => e.To, e => e.From);
        Assert.Equal([pool0.Id], into[layers[0].Id]);
        for (int k = 0; k < 6; k++)
        {
            // Concatenation k sees the block input and layers 1..k+1, and feeds layer k+2 (the last one: transition1's norm).
            Assert.Equal(new HashSet<string>([pool0.Id, .. layers.Take(k + 1).Select(l => l.Id)]), into[concats[k].Id].ToHashSet());
            string consumer = k < 5 ? layers[k + 1].Id : Module(graph, "features.transition1.norm").Id;
            Assert.Equal([concats[k].Id], into[consumer]);
        }
        // Each layer's output goes to every later concatenation and nowhere else.
        for (int i = 0; i < 6; i++)
            Assert.Equal(concats.Skip(i).Select(c => c.Id).ToHashSet(), graph.Edges.Where(e => e.From == layers[i].Id).Select(e => e.To).ToHashSet());
    }

    static readonly (string Name, int Size)[] Models =
    [
        ("resnet18", 224), ("densenet121", 224), ("resnet50", 96), ("mobilenet_v2", 96), ("mobilenet_v3_small", 96),
        ("efficientnet_b0", 96), ("convnext_tiny", 96), ("squeezenet1_1", 96),
    ];

    public static TheoryData<string, int> Sizes => new(Models);

    static readonly Lazy<JsonElement> TorchvisionCalls = new(() =>
    {
        string file = Path.Combine(TempFolder.Create("module-calls"), "calls.json");
        var specs = Models.Select(m => $"{m.Name}@{m.Size}").ToArray();
        var (code, output, error) = PyTorch.RunScript("module_calls.py", [file, .. specs]);
        if (code != 0) throw new InvalidOperationException($"module_calls.py failed ({code}):\n{output}\n{error}");
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        return doc.RootElement.Clone();
    });

    [Theory]
    [MemberData(nameof(Sizes))]
    public void NodesAreTheModuleCallsTorchvisionMakesWithTheirShapes(string name, int size)
    {
        PyTorch.Require();
        var calls = TorchvisionCalls.Value.GetProperty(name).EnumerateArray()
            .Select(c => (Path: c.GetProperty("path").GetString()!, Leaf: c.GetProperty("leaf").GetBoolean(),
                Shape: string.Join("x", c.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()))))
            .ToList();
        using var model = ModelZoo.Create(name);
        foreach (int depth in new[] { 1, 3, 99 })
        {
            var graph = ModelGraph.Build(model, new ModelGraphOptions { Depth = depth, InputShape = [3, size, size] });
            static int Depth(string path) => path.Count(ch => ch == '.') + 1;
            // Hooks fire as calls end and ours are listed as they start; per module, both are in call order.
            var expected = calls.Where(c => Depth(c.Path) == depth || (Depth(c.Path) < depth && c.Leaf))
                .GroupBy(c => c.Path).ToDictionary(g => g.Key, g => string.Join(", ", g.Select(c => c.Shape)));
            var actual = graph.Nodes.Where(n => n.Kind == ModelGraphNodeKind.Module)
                .GroupBy(n => n.Path).ToDictionary(g => g.Key, g => string.Join(", ", g.OrderBy(n => n.Call).Select(n => string.Join("x", n.OutputShape))));
            Assert.Equal(expected.OrderBy(kv => kv.Key, StringComparer.Ordinal), actual.OrderBy(kv => kv.Key, StringComparer.Ordinal));
            if (depth == 1)
                Assert.Equal(calls.Count(c => Depth(c.Path) == 1), graph.Nodes.Count(n => n.Kind == ModelGraphNodeKind.Module));
        }
    }

    [Fact]
    public void AnyModuleTheExporterKnowsHasAGraphWithItsPassThroughCalls()
    {
        using var model = nn.Sequential(nn.Conv2d(3, 4, 3, stride: 2), nn.ReLU(), nn.Dropout(0.5), nn.Flatten(), nn.Linear(36, 5));
        var graph = ModelGraph.Build(model, new ModelGraphOptions { Depth = 1, InputShape = [3, 8, 8] });
        Assert.Equal("Sequential", graph.Title);
        // Dropout is the identity in eval mode, yet a call of its own: a node between ReLU and Flatten.
        Assert.Equal(
            ["input Input [1, 3, 8, 8]", "0 Conv2d [1, 4, 3, 3]", "1 ReLU [1, 4, 3, 3]", "2 Dropout [1, 4, 3, 3]", "3 Flatten [1, 36]", "4 Linear [1, 5]",
                "output Output [1, 5]"],
            graph.Nodes.Select(n => $"{(n.Kind == ModelGraphNodeKind.Module ? n.Path : n.Type)} {(n.Kind == ModelGraphNodeKind.Module ? n.Type : n.Kind)} [{string.Join(", ", n.OutputShape)}]"));
        Assert.Equal(Enumerable.Range(0, 6).Select(i => $"n{i} -> n{i + 1}"), graph.Edges.Select(e => e.ToString()));

        var e = Assert.Throws<ArgumentException>(() => ModelGraph.Build(model));
        Assert.StartsWith("the graph of a Sequential (not a zoo backbone) needs ModelGraphOptions.InputShape", e.Message);
    }

    [Fact]
    public void DepthBelowOneIsRefused()
    {
        using var model = ModelZoo.Create("resnet18");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ModelGraph.Build(model, new ModelGraphOptions { Depth = 0 }));
        Assert.Contains("the graph depth must be at least 1", e.Message);
    }
}
