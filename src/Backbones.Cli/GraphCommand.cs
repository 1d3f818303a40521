using System.CommandLine;
using System.Text;
using Backbones.Inspection;
using Backbones.IO;

namespace Backbones.Cli;

/// <summary>
/// <c>backbones graph MODEL -o FILE.svg|FILE.dot [--depth D] [--weights W] [--input 3x224x224]</c>: the module graph
/// with each call's type and output shape and the data flow between calls, as DOT or (through Graphviz's dot) SVG.
/// </summary>
internal static class GraphCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "Architecture name (see backbones models)" };
        var output = new Option<string>("--output", "-o") { Description = "The .svg (laid out by Graphviz's dot) or .dot file to write", Required = true };
        var depth = new Option<int>("--depth") { Description = "Module depth drawn as nodes (1: top-level modules); containers above it are boxes", DefaultValueFactory = _ => 3 };
        var weights = new Option<string?>("--weights") { Description = "Catalogue weights name or a checkpoint file (a fine-tuned head's size is read from it)" };
        var input = new Option<string?>("--input") { Description = "One input sample as CxHxW (default: the model's channels at the weights' crop size, else 224)" };
        var command = new Command("graph", "Draw a model's module graph (SVG or DOT)") { model, output, depth, weights, input };
        command.SetAction(parsed =>
        {
            string path = parsed.GetValue(output)!;
            string format = Path.GetExtension(path).ToLowerInvariant() switch
            {
                ".svg" => "svg",
                ".dot" or ".gv" => "dot",
                _ => throw new CliUsageException($"-o {path}: the file must end in .svg or .dot"),
            };
            if (parsed.GetValue(depth) < 1) throw new CliUsageException($"--depth {parsed.GetValue(depth)}: the depth must be at least 1");
            var shape = parsed.GetValue(input) is { } text ? ExportCommand.ParseShape(text) : null;

            using var net = ExportCommand.CreateModel(parsed.GetValue(model)!, parsed.GetValue(weights), null);
            var graph = ModelGraph.Build(net, new ModelGraphOptions { Depth = parsed.GetValue(depth), InputShape = shape });
            string dotText = DotWriter.Write(graph);
            var console = parsed.InvocationConfiguration;

            if (format == "svg" && Graphviz.FindDot() is { } dot)
            {
                Graphviz.Render(dotText, path, "svg", dot: dot);
                console.Output.WriteLine($"wrote {path}: {graph}");
                return BackbonesCli.Success;
            }
            string dotPath = format == "dot" ? path : Path.ChangeExtension(path, ".dot");
            AtomicFile.Write(dotPath, stream => stream.Write(new UTF8Encoding(false).GetBytes(dotText)));
            console.Output.WriteLine($"wrote {dotPath}: {graph}");
            if (format == "dot") return BackbonesCli.Success;
            console.Error.WriteLine($"error: Graphviz's dot is not on PATH (Debian: apt-get install graphviz), so {path} was not made; "
                + $"the graph is in {dotPath} (render it with: dot -Tsvg {dotPath} -o {path})");
            return BackbonesCli.Failure;
        });
        return command;
    }
}
