using System.CommandLine;
using Backbones.Runtime;
using Backbones.Serialization;

namespace Backbones.Cli;

/// <summary>
/// The <c>backbones</c> command: one verb per file, each a few calls into the library. Bad input ends with
/// exit code 2 and one line on standard error naming the file, the entry and the problem.
/// </summary>
public static class BackbonesCli
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int BadInput = 2;
    public const int NoLibtorch = 3;

    internal static readonly Option<bool> Debug = new("--debug") { Description = "Show the full .NET stack trace on errors", Recursive = true };

    // No detector is built in yet: detect says so until Keypoint R-CNN is assembled (issue 8).
    public static int Run(string[] args, TextWriter output, TextWriter error) => Run(args, output, error, detectors: null);

    /// <param name="detectors">What detect runs: a detector for a model name and its weights.</param>
    internal static int Run(string[] args, TextWriter output, TextWriter error, Func<string, string?, Detection.IDetector>? detectors)
    {
        var root = new RootCommand("Backbones: pretrained CNN backbones for .NET, PyTorch checkpoints without Python.")
        {
            InspectCommand.Create(),
            ConvertCommand.Create(),
            ModelsCommand.Create(),
            DownloadCommand.Create(),
            ForwardCommand.Create(),
            LoadCommand.Create(),
            InitCheckCommand.Create(),
            ExportCommand.Create(),
            GraphCommand.Create(),
            ClassifyCommand.Create(),
            EmbedCommand.Create(),
            CamCommand.Create(),
            SummaryCommand.Create(),
            DiffCommand.Create(),
            FinetuneCommand.Create(),
            EvaluateCommand.Create(),
            DemoCommand.Create(),
            DetectCommand.Create(detectors),
        };
        root.Options.Add(Debug);
        var parsed = root.Parse(args);
        var config = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
        try
        {
            return parsed.Invoke(config);
        }
        catch (Exception e)
        {
            var (code, message) = Describe(e);
            error.WriteLine(parsed.GetValue(Debug) ? e.ToString() : message);
            return code;
        }
    }

    static (int Code, string Message) Describe(Exception e) => e switch
    {
        CheckpointFormatException c => (BadInput, "error: " + c.Message),
        LibtorchUnavailableException l => (NoLibtorch, "error: " + l.Message),
        Weights.WeightsDownloadException d => (Failure, "error: " + d.Message),
        CliUsageException u => (BadInput, "error: " + u.Message),
        Onnx.OnnxExportException o => (Failure, "error: " + o.Message),
        Vision.ImageDecodeException i => (BadInput, "error: " + i.Message),
        IOException or UnauthorizedAccessException => (Failure, "error: " + e.Message),
        InvalidOperationException or NotSupportedException or ArgumentException => (Failure, "error: " + e.Message),
        _ => (Failure, $"error: {e.GetType().Name}: {e.Message} (run with --debug for the stack trace)"),
    };
}

/// <summary>A command line that names something impossible (a bad pattern, an unknown format).</summary>
public sealed class CliUsageException(string message) : Exception(message);
