using System.Text;

namespace Backbones.Inspection;

/// <summary>
/// Writes a <see cref="ModelGraph"/> as Graphviz DOT text: module calls as boxes coloured by kind of layer, a
/// container's own operators as small ellipses, containers as nested labelled clusters. The same graph always gives
/// the same text (ids in forward order), so a DOT file can be diffed.
/// </summary>
public static class DotWriter
{
    const int LargeGraphEdges = 300;

    public static string Write(ModelGraph graph)
    {
        var text = new StringBuilder();
        text.Append("digraph ").Append(Quote(graph.Title)).AppendLine(" {");
        text.Append("  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=12, labelloc=t, nodesep=0.25, ranksep=0.3, label=")
            .Append(Quote($"{graph.Title}, depth {graph.Depth}, input [{string.Join(", ", graph.Input.OutputShape)}]")).AppendLine("];");
        // DenseNet's concatenations bring thousands of edges (DenseNet-201: about 2,000); bounded layout passes keep dot to seconds.
        if (graph.Edges.Count > LargeGraphEdges) text.AppendLine("  graph [nslimit=1, nslimit1=1, mclimit=0.1];");
        text.AppendLine("  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10, margin=\"0.12,0.04\"];");
        text.AppendLine("  edge [color=\"#555555\", arrowsize=0.6];");

        var childClusters = graph.Clusters.ToLookup(c => c.Parent);
        var nodesByCluster = graph.Nodes.ToLookup(n => n.Cluster);
        // Modules called more than once are labelled with the call's number.
        var repeated = graph.Nodes.Where(n => n.Kind == ModelGraphNodeKind.Module && n.Call > 1).Select(n => n.Path).ToHashSet(StringComparer.Ordinal);

        void WriteMembers(string? cluster, string indent)
        {
            foreach (var node in nodesByCluster[cluster]) text.Append(indent).AppendLine(NodeLine(node, repeated.Contains(node.Path)));
            foreach (var child in childClusters[cluster])
            {
                text.Append(indent).Append("subgraph ").Append(child.Id).AppendLine(" {");
                text.Append(indent).Append("  label=").Append(Quote($"{child.Path}\n{child.Type}"))
                    .AppendLine("; labeljust=l; style=\"rounded\"; color=\"#9aa5b1\"; fontsize=10;");
                WriteMembers(child.Id, indent + "  ");
                text.Append(indent).AppendLine("}");
            }
        }

        WriteMembers(null, "  ");
        foreach (var edge in graph.Edges) text.Append("  ").Append(edge.From).Append(" -> ").Append(edge.To).AppendLine(";");
        text.AppendLine("}");
        return text.ToString();
    }

    static string NodeLine(ModelGraphNode node, bool numbered)
    {
        string shape = $"[{string.Join(", ", node.OutputShape)}]";
        return node.Kind switch
        {
            ModelGraphNodeKind.Input or ModelGraphNodeKind.Output =>
                $"{node.Id} [label={Quote($"{node.Type}\n{shape}")}, shape=oval, style=filled, fillcolor=\"#ffffff\"];",
            ModelGraphNodeKind.Operator =>
                $"{node.Id} [label={Quote($"{node.Type}\n{shape}")}, shape=ellipse, style=filled, fillcolor=\"#f4f4f4\", fontsize=8, margin=\"0.04,0.02\"];",
            _ => $"{node.Id} [label={Quote($"{(node.Path.Length == 0 ? "" : node.Path + (numbered ? $" ({node.Call})" : "") + "\n")}{node.Type}\n{shape}")}, fillcolor=\"{Fill(node.Type)}\"];",
        };
    }

    /// <summary>A fill colour by kind of layer, as a reader scans a network: convolutions, norms, activations, pools, linear layers.</summary>
    static string Fill(string type) => type switch
    {
        _ when type.Contains("Conv", StringComparison.Ordinal) => "#d6e6f5",
        _ when type.Contains("Norm", StringComparison.Ordinal) => "#dcefd9",
        _ when type.Contains("Pool", StringComparison.Ordinal) => "#eadcf3",
        _ when type.Contains("Linear", StringComparison.Ordinal) => "#f8d9d6",
        "ReLU" or "ReLU6" or "SiLU" or "GELU" or "Hardswish" or "Hardsigmoid" or "Sigmoid" or "Tanh" or "LeakyReLU" or "ELU" or "Softmax" => "#fdf0cf",
        _ => "#eeeeee",
    };

    /// <summary>A DOT quoted string: backslashes and quotes escaped (so no <c>\N</c>-style escapes fire), line breaks as <c>\n</c>.</summary>
    internal static string Quote(string value)
    {
        var text = new StringBuilder("\"");
        foreach (char ch in value)
        {
            switch (ch)
            {
                case '\\': text.Append(@"\\"); break;
                case '"': text.Append("\\\""); break;
                case '\n': text.Append(@"\n"); break;
                case '\r': break;
                default: text.Append(ch); break;
            }
        }
        return text.Append('"').ToString();
    }
}
