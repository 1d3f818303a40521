using System.Text.Json.Nodes;
using Backbones.Models;
using Backbones.Runtime;
using Backbones.Serialization;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

/// <summary>
/// Our model: <c>ModelZoo.Create(name)</c>, the peer's state dict loaded, <c>eval()</c>, <c>model.call(x)</c> under
/// <c>torch.inference_mode()</c> on 2 threads. Variants for the experiments (all off by default):
/// "grad": "no_grad"; "channels_last": true (4-D weights converted once, the input inside every timed forward);
/// "functional": "plain" or "folded" (ResNet only, see <see cref="FunctionalResNet"/>).
/// </summary>
sealed class OursEngine : IEngine
{
    readonly Backbone _model;
    readonly nn.Module<Tensor, Tensor> _net;
    readonly Tensor _input;
    readonly bool _channelsLast, _noGrad;

    public OursEngine(string name, string weights, float[] input, long[] shape, JsonObject variant)
    {
        Libtorch.EnsureLoaded(); // before the first TorchSharp call: it makes libtorch loadable on this libstdc++
        torch.set_num_threads(Worker.Threads);
        _model = ModelZoo.Create(name);
        using (var state = StateDict.Load(weights))
            _model.LoadStateDict(state);
        _model.eval();
        _noGrad = (string?)variant["grad"] switch
        {
            null or "inference_mode" => false,
            "no_grad" => true,
            var other => throw new ArgumentException($"grad mode '{other}'?"),
        };
        _channelsLast = (bool?)variant["channels_last"] ?? false;
        if (_channelsLast)
            using (no_grad())
                foreach (var p in _model.parameters().Where(p => p.dim() == 4))
                    p.set_(ChannelsLast(p));
        _net = (string?)variant["functional"] switch
        {
            null => _model,
            "plain" => new FunctionalResNet(_model, fold: false),
            "folded" => new FunctionalResNet(_model, fold: true, channelsLast: _channelsLast),
            var other => throw new ArgumentException($"functional '{other}'?"),
        };
        _input = tensor(input, shape);
    }

    public string Version => $"TorchSharp {typeof(torch).Assembly.GetName().Version} (libtorch {__version__})";

    /// <summary>The same values, stored channels-last (NHWC in memory, still indexed NCHW), as libtorch recognises it.</summary>
    public static Tensor ChannelsLast(Tensor t) => t.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);

    IDisposable GradMode() => _noGrad ? no_grad() : inference_mode();

    Tensor Forward(Tensor x) => _net.call(_channelsLast ? ChannelsLast(x) : x);

    public float[] Logits()
    {
        using var scope = NewDisposeScope();
        using var mode = GradMode();
        return Forward(_input).data<float>().ToArray();
    }

    public (double Seconds, long Faults) Time(int batch, int iters)
    {
        long n = _input.shape[0];
        using var x = _input.repeat((batch + n - 1) / n, 1, 1, 1)[..batch].contiguous();
        using var mode = GradMode();
        return WorkerLoop.Measure(iters, () =>
        {
            using var scope = NewDisposeScope(); // the logits and, with channels-last, the converted input
            Forward(x);
        });
    }

    public void Dispose()
    {
        if (!ReferenceEquals(_net, _model)) _net.Dispose();
        _model.Dispose();
        _input.Dispose();
    }
}
