using System.CommandLine;
using Backbones.Models;
using Backbones.Vision;

namespace Backbones.Cli;

/// <summary>
/// What classify, cam and embed share: the model and its weights, the number of classes, and the preprocessing
/// (the weights set's own unless --resize/--crop say otherwise).
/// </summary>
internal sealed class ImageModelOptions
{
    public readonly Argument<string> Model = new("model") { Description = "Architecture name (see backbones models)" };
    public readonly Option<string?> Weights = new("--weights") { Description = "Catalogue weights name (IMAGENET1K_V2, DEFAULT) or a checkpoint file" };
    public readonly Option<long?> NumClasses = new("--num-classes") { Description = "Classifier outputs, when the weights file has another head than 1000 classes" };
    readonly ImageSizeOptions _size = new();

    public void AddTo(Command command)
    {
        command.Arguments.Add(Model);
        foreach (var o in new Option[] { Weights, NumClasses }) command.Options.Add(o);
        _size.AddTo(command);
    }

    /// <summary>The model with its weights, in eval mode; a warning on <paramref name="error"/> when it has no trained weights.</summary>
    public Backbone CreateModel(ParseResult parsed, TextWriter error)
    {
        string? weights = parsed.GetValue(Weights);
        var net = ModelZoo.Create(parsed.GetValue(Model)!, new ModelOptions { Weights = weights, NumClasses = parsed.GetValue(NumClasses) ?? 1000 });
        if (net.LoadedWeights is { HeadReplaced: true } loaded)
        {
            net.Dispose();
            throw new CliUsageException($"{loaded.File} has a classifier of another size than {parsed.GetValue(NumClasses) ?? 1000} classes; give its --num-classes");
        }
        if (weights is null) error.WriteLine("warning: no --weights given, so the model's weights are random");
        net.eval();
        return net;
    }

    public ImagePreprocessing Preprocessing(ParseResult parsed) => _size.Apply(parsed, ImagePreprocessing.For(parsed.GetValue(Model)!, parsed.GetValue(Weights)));
}
