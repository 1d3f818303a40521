using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Init;

/// <summary>
/// A plain multilayer perceptron (Linear, activation, Linear, activation, ...) as nn.Sequential numbers it, for
/// demonstrating what an initialisation does to activations over depth (<see cref="ActivationStatistics"/>).
/// </summary>
public static class Mlp
{
    public static IReadOnlyList<string> Activations { get; } = ["tanh", "relu"];

    /// <param name="depth">Linear layers, each followed by the activation.</param>
    /// <param name="width">Input and hidden features.</param>
    /// <param name="activation">tanh or relu.</param>
    /// <param name="init">Applied after construction; null keeps PyTorch's default Linear initialisation.</param>
    public static nn.Module<Tensor, Tensor> Create(int depth, int width, string activation = "tanh", InitPolicy? init = null, Generator? generator = null)
    {
        if (depth < 1) throw new ArgumentOutOfRangeException(nameof(depth), depth, "an MLP needs at least one layer");
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "an MLP needs at least one feature");
        if (!Activations.Contains(activation)) throw new ArgumentException($"unknown MLP activation '{activation}'; known: {string.Join(", ", Activations)}", nameof(activation));
        var layers = new List<nn.Module<Tensor, Tensor>>();
        for (int i = 0; i < depth; i++)
        {
            layers.Add(nn.Linear(width, width));
            layers.Add(activation == "tanh" ? nn.Tanh() : nn.ReLU());
        }
        var model = nn.Sequential(layers);
        if (init is not null) model.Initialize(init, new InitOptions { Generator = generator });
        return model;
    }
}
