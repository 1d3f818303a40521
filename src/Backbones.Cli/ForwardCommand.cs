using System.CommandLine;
using Backbones.Onnx;
using Backbones.Serialization;
using Backbones.Serialization.Pickle;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Cli;

/// <summary>
/// <c>backbones forward MODEL [--weights W] --input X [--layers L1,L2,...] --output Y [--engine torch|onnx]</c>: runs the
/// model in eval mode without autograd on the first tensor of X (or its key <c>input</c>), with libtorch or ONNX Runtime,
/// and writes <c>logits</c> and each requested layer's output to Y (.pth or .safetensors), so anyone can compare our numbers with theirs.
/// </summary>
internal static class ForwardCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "Architecture name (see backbones models)" };
        var weights = new Option<string?>("--weights") { Description = "Catalogue weights name (IMAGENET1K_V2, DEFAULT) or a checkpoint file" };
        var input = new Option<string>("--input") { Description = "A .pth or .safetensors file whose key 'input' (or first tensor) is the N×C×H×W batch", Required = true };
        var layers = new Option<string?>("--layers") { Description = "Comma-separated module paths whose outputs to save too (layer3,features.denseblock2)" };
        var output = new Option<string>("--output", "-o") { Description = "File to write (.pth or .safetensors)", Required = true };
        var classes = new Option<long?>("--num-classes") { Description = "Classifier outputs (default: the weights file's, else 1000)" };
        var engine = new EngineOptions();
        var command = new Command("forward", "Run a model on a saved input and save its outputs") { model, weights, input, layers, output, classes };
        engine.AddTo(command);
        command.SetAction(parsed =>
        {
            using var net = ExportCommand.CreateModel(parsed.GetValue(model)!, parsed.GetValue(weights), parsed.GetValue(classes));
            var options = engine.Read(parsed, ExportCommand.SplitList(parsed.GetValue(layers)));
            using var checkpoint = Checkpoint.Load(parsed.GetValue(input)!);
            var x = checkpoint.Leaves().FirstOrDefault(l => l.Key == "input" && l.Value is Tensor).Value as Tensor
                ?? checkpoint.Leaves().Select(l => l.Value).OfType<Tensor>().FirstOrDefault()
                ?? throw new CliUsageException($"{parsed.GetValue(input)} holds no tensor");

            using var runner = InferenceEngine.Create(net, options);
            using var outputs = runner.Run(x);
            var result = new PyDict { Ordered = true };
            result["logits"] = outputs.Output;
            foreach (var (path, value) in outputs.Layers) result[path] = value;
            string target = parsed.GetValue(output)!;
            Checkpoint.Save(target, result);
            parsed.InvocationConfiguration.Output.WriteLine(
                $"wrote {target}: logits [{string.Join(", ", outputs.Output.shape)}]"
                + string.Concat(outputs.Layers.Select(o => $", {o.Key} [{string.Join(", ", o.Value.shape)}]")));
            if (runner.Kind == InferenceEngineKind.Onnx) parsed.InvocationConfiguration.Output.WriteLine(runner.Description);
            return BackbonesCli.Success;
        });
        return command;
    }
}
