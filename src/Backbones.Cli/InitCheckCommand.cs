using System.CommandLine;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Backbones.Init;
using Backbones.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Cli;

/// <summary>
/// <c>backbones init-check [MODEL] [--init xavier|kaiming|normal001|normal1|default] ...</c>: one forward of a freshly
/// initialised model (a built-in MLP, or a zoo model) on N(0, 1) input, with each layer's output mean, std, extremes
/// and where activations vanish, explode or turn NaN/inf.
/// </summary>
internal static class InitCheckCommand
{
    static readonly string[] Inits = ["xavier", "kaiming", "normal001", "normal1", "default"];

    public static Command Create()
    {
        var model = new Argument<string?>("model") { Description = "A zoo architecture (see backbones models); without it, the built-in MLP", Arity = ArgumentArity.ZeroOrOne };
        var depth = new Option<int?>("--mlp-depth") { Description = "MLP: Linear layers (default 100)" };
        var width = new Option<int?>("--width") { Description = "MLP: input and hidden features (default 256)" };
        var activation = new Option<string?>("--activation") { Description = "tanh or relu: the MLP's activation and the gain/nonlinearity of xavier and kaiming (default tanh for the MLP, relu for a zoo model)" };
        var init = new Option<string>("--init") { Description = "xavier (normal, gain of the activation), kaiming (normal, fan_in), normal001, normal1, or default (PyTorch's Linear init for the MLP, torchvision's for a zoo model)", DefaultValueFactory = _ => "default" };
        var input = new Option<string?>("--input") { Description = "Zoo model: C×H×W of the input (default 3x224x224)" };
        var batch = new Option<int?>("--batch") { Description = "Input batch (default 512 for the MLP, 1 for a zoo model)" };
        var seed = new Option<long>("--seed") { Description = "Seed of the weights and the input", DefaultValueFactory = _ => 0 };
        var train = new Option<bool>("--train") { Description = "Run a zoo model in train mode (BatchNorm on batch statistics); default eval" };
        var json = new Option<bool>("--json") { Description = "Print one JSON document" };
        var command = new Command("init-check", "Show how an initialisation carries activations through a model, layer by layer")
            { model, depth, width, activation, init, input, batch, seed, train, json };
        command.SetAction(parsed =>
        {
            string? name = parsed.GetValue(model);
            string scheme = parsed.GetValue(init)!;
            if (!Inits.Contains(scheme)) throw new CliUsageException($"unknown --init '{scheme}'; known: {string.Join(", ", Inits)}");
            if (name is not null && (parsed.GetValue(depth) is not null || parsed.GetValue(width) is not null))
                throw new CliUsageException("--mlp-depth and --width describe the built-in MLP; leave them out with a zoo model");
            if (name is null && parsed.GetValue(input) is not null) throw new CliUsageException("--input is for a zoo model; the MLP's input is --batch × --width");
            string act = parsed.GetValue(activation) ?? (name is null ? "tanh" : "relu");
            if (!Mlp.Activations.Contains(act)) throw new CliUsageException($"unknown --activation '{act}'; known: {string.Join(", ", Mlp.Activations)}");
            var policy = Policy(scheme, act);

            long seedValue = parsed.GetValue(seed);
            manual_seed(seedValue); // the constructors' own initialisation, kept by --init default
            var generator = new Generator((ulong)seedValue);
            nn.Module<Tensor, Tensor> net;
            long[] shape;
            string described;
            if (name is null)
            {
                int d = parsed.GetValue(depth) ?? 100, w = parsed.GetValue(width) ?? 256;
                if (d < 1 || w < 1) throw new CliUsageException("--mlp-depth and --width must be positive");
                net = Mlp.Create(d, w, act, policy, generator);
                shape = [parsed.GetValue(batch) ?? 512, w];
                described = $"MLP of {d} Linear({w}, {w}) + {act}";
            }
            else
            {
                var zoo = ModelZoo.Create(name);
                if (policy is not null) zoo.Initialize(policy, new InitOptions { Generator = generator });
                net = zoo;
                shape = [parsed.GetValue(batch) ?? 1, .. ParseInput(parsed.GetValue(input) ?? "3x224x224")];
                described = name;
            }
            if (shape[0] < 1) throw new CliUsageException("--batch must be positive");

            using var _ = net;
            net.train(parsed.GetValue(train));
            using var x = randn(shape, generator: generator);
            var stats = ActivationStatistics.Measure(net, x);
            string initName = policy is null ? (name is null ? "PyTorch's default (kaiming_uniform_(a=sqrt(5)))" : "torchvision's default for the family") : policy.Name + PolicyDetail(policy);
            var output = parsed.InvocationConfiguration.Output;
            if (parsed.GetValue(json)) WriteJson(output, described, initName, shape, stats);
            else
            {
                output.WriteLine($"{described}; init {initName}; input N(0, 1) [{string.Join(", ", shape)}], seed {seedValue}");
                output.WriteLine(stats);
            }
            return BackbonesCli.Success;
        });
        return command;
    }

    static InitPolicy? Policy(string scheme, string activation) => scheme switch
    {
        "xavier" => InitPolicy.Xavier(Gain.Calculate(activation)),
        "kaiming" => InitPolicy.Kaiming(FanMode.FanIn, activation),
        "normal001" => InitPolicy.Normal001,
        "normal1" => InitPolicy.Normal(1),
        _ => null,
    };

    static string PolicyDetail(InitPolicy policy) => policy.LinearWeight is { } w ? $" (weights {w.Name}, biases 0)" : "";

    static long[] ParseInput(string text)
    {
        var parts = text.Split('x', '×');
        var dims = parts.Select(p => long.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out long v) && v > 0 ? v : -1).ToArray();
        if (dims.Length != 3 || dims.Any(v => v < 0)) throw new CliUsageException($"--input '{text}' is not C×H×W such as 3x224x224");
        return dims;
    }

    static void WriteJson(TextWriter output, string model, string init, long[] shape, ActivationStatistics stats)
    {
        var document = new
        {
            model, init, input = shape, input_std = stats.InputStd,
            layers = stats.Layers.Select(l => new { index = l.Index, path = l.Path, type = l.Type, shape = l.Shape, mean = l.Mean, std = l.Std, min = l.Min, max = l.Max, non_finite = l.NonFinite }),
            first_non_finite = stats.FirstNonFinite?.Index,
            first_vanished = stats.FirstVanished?.Index,
            first_exploded = stats.FirstExploded?.Index,
        };
        // NaN and infinities are written as the strings "NaN", "Infinity", "-Infinity".
        var options = new JsonSerializerOptions
        {
            WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        output.WriteLine(JsonSerializer.Serialize(document, options));
    }
}
