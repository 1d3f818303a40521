using System.CommandLine;
using Backbones.Vision;

namespace Backbones.Cli;

/// <summary>--resize and --crop: the weights set's preprocessing with another resize or crop (small images, quick runs).</summary>
internal sealed class ImageSizeOptions
{
    readonly Option<int?> _resize = new("--resize") { Description = "Resize the shorter side to this (default: the weights set's)" };
    readonly Option<int?> _crop = new("--crop") { Description = "Center crop (training: random crop) to this square (default: the weights set's)" };

    public void AddTo(Command command)
    {
        command.Options.Add(_resize);
        command.Options.Add(_crop);
    }

    public ImagePreprocessing Apply(ParseResult parsed, ImagePreprocessing p)
    {
        if (parsed.GetValue(_resize) is { } resize) p = p with { ResizeSize = Positive(resize, "--resize") };
        if (parsed.GetValue(_crop) is { } crop) p = p with { CropSize = Positive(crop, "--crop") };
        return p;
    }

    static int Positive(int value, string option) => value > 0 ? value : throw new CliUsageException($"{option} must be positive, not {value}");
}
