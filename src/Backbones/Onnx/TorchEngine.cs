using Backbones.Models;
using Backbones.Transfer;
using static TorchSharp.torch;

namespace Backbones.Onnx;

/// <summary>The model's own forward under libtorch, without autograd, with forward hooks for the requested layers.</summary>
internal sealed class TorchEngine(Backbone model, InferenceOptions options) : InferenceEngine(model, options)
{
    public override InferenceEngineKind Kind => InferenceEngineKind.Torch;

    public override string Description => $"libtorch (TorchSharp), eager, {TorchSharp.torch.get_num_threads()} threads";

    public override InferenceOutputs Run(Tensor input)
    {
        using var scope = NewDisposeScope();
        using var capture = FeatureCapture.Attach(Model, Options.Layers);
        Tensor output;
        using (inference_mode())
        {
            var x = Prepare(input);
            output = Options.Output switch
            {
                ModelOutput.Logits => Model.call(x),
                ModelOutput.PreLogits => Model.ForwardHead(Model.ForwardFeatures(x), preLogits: true),
                _ => Model.ForwardFeatures(x),
            };
        }
        var missing = Options.Layers.FirstOrDefault(l => !capture.Outputs.ContainsKey(l));
        if (missing is not null) throw new ArgumentException($"module '{missing}' is not run by the forward (it stops at {Options.Output})");
        var layers = Options.Layers.Distinct().ToDictionary(l => l, l => capture.Outputs[l].clone().MoveToOuterDisposeScope(), StringComparer.Ordinal);
        return new InferenceOutputs(output.MoveToOuterDisposeScope(), layers);
    }
}
