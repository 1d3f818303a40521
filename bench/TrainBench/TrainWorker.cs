using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Backbones.Models;
using Backbones.Runtime;
using Backbones.Training;
using Backbones.Transfer;
using TorchSharp;
using static TorchSharp.torch;

/// <summary>
/// The worker side of TrainBench (<c>TrainBench worker</c>): our training step as <c>backbones finetune</c> takes it
/// (head and backbone parameter groups built before freezing, <see cref="TrainingOptimizer"/> SGD, cross-entropy,
/// <see cref="OneDnn.GuardBackward"/>, glibc told to keep freed memory as the CLI does), answering the same JSON-line
/// protocol as bench/peers/torch_train.py.
/// </summary>
static class TrainWorker
{
    const int Threads = 2;
    const double LearningRate = 0.01, Momentum = 0.9, WeightDecay = 1e-4;

    public static int Run()
    {
        Libtorch.EnsureLoaded();
        torch.set_num_threads(Threads);
        NativeHeap.KeepFreedMemory();
        return WorkerLoop.Serve(r => new Session(r), session => session.Check(), (session, r) => session.Time((string)r["what"]!, (int)r["iters"]!));
    }

    /// <summary>One model, its optimizer and the check batch.</summary>
    sealed class Session : IDisposable
    {
        readonly Backbone _model;
        readonly TrainingOptimizer _optimizer;
        readonly OneDnnBackwardGuard _guard;
        readonly Tensor _x, _y;

        public Session(JsonObject r)
        {
            _model = ModelZoo.Create((string)r["model"]!, new ModelOptions { NumClasses = (int)r["classes"]!, Weights = (string)r["weights"]! });
            var groups = ParameterGroups.For(_model)
                .Add(FineTuner.HeadGroup, [_model.ClassifierPath], LearningRate)
                .Add(FineTuner.BackboneGroup, ["*"], LearningRate)
                .Build(LearningRate, WeightDecay);
            _optimizer = new TrainingOptimizer(OptimizerKind.Sgd, groups, Momentum);
            if ((string)r["mode"]! == "frozen") _model.FreezeAllButHead();
            _guard = OneDnn.GuardBackward(_model);
            _model.train();
            long[] shape = r["shape"]!.AsArray().Select(n => (long)n!).ToArray();
            _x = tensor(MemoryMarshal.Cast<byte, float>(File.ReadAllBytes((string)r["input"]!)).ToArray()).reshape(shape);
            _y = tensor(MemoryMarshal.Cast<byte, long>(File.ReadAllBytes((string)r["labels"]!)).ToArray());
        }

        float Step()
        {
            using var scope = NewDisposeScope();
            _optimizer.ZeroGrad();
            var loss = nn.functional.cross_entropy(_model.call(_x), _y);
            loss.backward();
            _optimizer.Step();
            return loss.item<float>();
        }

        void Forward()
        {
            using var scope = NewDisposeScope();
            nn.functional.cross_entropy(_model.call(_x), _y);
        }

        public JsonObject Check()
        {
            float loss = Step();
            var withGrad = _model.named_parameters().Where(p => p.parameter.grad is not null).Select(p => (JsonNode)p.name).ToArray();
            float after;
            using (no_grad())
            using (var logits = _model.call(_x))
            using (var l = nn.functional.cross_entropy(logits, _y))
                after = l.item<float>();
            return new JsonObject
            {
                ["loss"] = loss, ["loss_after"] = after, ["with_grad"] = new JsonArray(withGrad),
                ["version"] = $"Backbones on TorchSharp, libtorch {torch.__version__}",
            };
        }

        public JsonObject Time(string what, int iters)
        {
            Action run = what switch
            {
                "step" => () => Step(),
                "forward" => Forward,
                _ => throw new ArgumentException($"time 'step' or 'forward', not '{what}'"),
            };
            var (seconds, faults) = WorkerLoop.Measure(iters, run);
            return new JsonObject { ["seconds"] = seconds, ["faults"] = faults };
        }

        public void Dispose()
        {
            _guard.Dispose();
            _optimizer.Dispose();
            _model.Dispose();
            _x.Dispose();
            _y.Dispose();
        }
    }
}
