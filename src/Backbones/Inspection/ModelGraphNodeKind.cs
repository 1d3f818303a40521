namespace Backbones.Inspection;

/// <summary>What a node of a <see cref="ModelGraph"/> stands for: the input, the output, one module call, or an
/// operator a container computes itself (a residual Add, DenseNet's Concat, a flatten).</summary>
public enum ModelGraphNodeKind
{
    Input,
    Output,
    Module,
    Operator,
}
