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
    public readonly Option<int?> Resize = new("--resize") { Description = "Resize the shorter side to this (default: the weights set's)" };
    public readonly Option<int?> Crop = new("--crop") { Description = "Center crop to this square (default: the weights set's)" };

    public void AddTo(Command command)
    {
        command.Arguments.Add(Model);
        foreach (var o in new Option[] { Weights, NumClasses, Resize, Crop }) command.Options.Add(o);
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

    public ImagePreprocessing Preprocessing(ParseResult parsed)
    {
        var p = ImagePreprocessing.For(parsed.GetValue(Model)!, parsed.GetValue(Weights));
        if (parsed.GetValue(Resize) is { } resize) p = p with { ResizeSize = Positive(resize, "--resize") };
        if (parsed.GetValue(Crop) is { } crop) p = p with { CropSize = Positive(crop, "--crop") };
        return p;
    }

    static int Positive(int value, string option) => value > 0 ? value : throw new CliUsageException($"{option} must be positive, not {value}");
}
