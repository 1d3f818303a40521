using System.CommandLine;
using Backbones.Vision;

namespace Backbones.Cli;

/// <summary>
/// <c>backbones cam MODEL [--weights W] IMAGE -o DIR [--method mean|gradcam] [--layers L1,L2] [--class N]</c>: activation
/// maps as PNGs over the picture the model sees. <c>mean</c>: each layer's output averaged over channels, one PNG per
/// layer (every convolution by default); <c>gradcam</c>: Grad-CAM of the top class (or --class) at the last stage (or the
/// one layer given).
/// </summary>
internal static class CamCommand
{
    public static Command Create()
    {
        var common = new ImageModelOptions();
        var image = new Argument<string>("image") { Description = "The image file" };
        var output = new Option<string>("--output", "-o") { Description = "Folder for the PNGs", Required = true };
        var method = new Option<string>("--method") { Description = "mean or gradcam", DefaultValueFactory = _ => "mean" };
        method.AcceptOnlyFromAmong("mean", "gradcam");
        var layers = new Option<string?>("--layers") { Description = "Comma-separated module paths (mean: default every convolution; gradcam: one, default the last stage)" };
        var target = new Option<int?>("--class") { Description = "gradcam: the class to explain (default: the top one)" };
        var labels = new Option<string?>("--labels") { Description = "Class names, one a line, for a model not trained on ImageNet" };
        var command = new Command("cam", "Activation maps (channel mean per layer, or Grad-CAM) as PNGs");
        common.AddTo(command);
        command.Arguments.Add(image);
        foreach (var o in new Option[] { output, method, layers, target, labels }) command.Options.Add(o);
        command.SetAction(parsed =>
        {
            var paths = (parsed.GetValue(layers) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            using var model = common.CreateModel(parsed, parsed.InvocationConfiguration.Error);
            var preprocessing = common.Preprocessing(parsed);
            string file = parsed.GetValue(image)!, folder = parsed.GetValue(output)!;
            ActivationMapReport report;
            if (parsed.GetValue(method) == "mean")
            {
                if (parsed.GetValue(target) is not null) throw new CliUsageException("--class applies to --method gradcam only");
                report = ActivationMapImages.WriteChannelMeans(model, file, preprocessing, folder, paths.Length > 0 ? paths : null);
            }
            else
            {
                if (paths.Length > 1) throw new CliUsageException("--method gradcam takes one layer");
                var names = ClassLabels.For(parsed.GetValue(common.Model)!, parsed.GetValue(common.Weights), model.NumClasses, parsed.GetValue(labels));
                report = ActivationMapImages.WriteGradCam(model, file, preprocessing, folder, names, parsed.GetValue(target), paths.FirstOrDefault());
            }
            parsed.InvocationConfiguration.Output.WriteLine(report);
            return BackbonesCli.Success;
        });
        return command;
    }
}
