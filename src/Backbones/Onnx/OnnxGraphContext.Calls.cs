using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Onnx;

// Call tracking for the module graph (Inspection/ModelGraph): which module call emitted each node. Off for exports.
public sealed partial class OnnxGraphContext
{
    /// <summary>One module call of the walk: the module, its path, the call it happened in, what went in and came out.</summary>
    internal sealed class ModuleCall(string path, nn.Module module, ModuleCall? parent, OnnxValue input)
    {
        public string Path { get; } = path;

        public nn.Module Module { get; } = module;

        public ModuleCall? Parent { get; } = parent;

        public OnnxValue Input { get; } = input;

        /// <summary>The call's result, always a node's output emitted during the call (set when the call returns).</summary>
        public OnnxValue? Output { get; set; }
    }

    readonly Stack<ModuleCall> _callStack = new();

    /// <summary>Every module call in the order they started; null when calls are not tracked.</summary>
    internal List<ModuleCall>? Calls { get; }

    /// <summary>For each node (by its output's name): the innermost call that emitted it, and its output.</summary>
    internal Dictionary<string, (ModuleCall? Call, OnnxValue Output)> NodeOrigins { get; } = new(StringComparer.Ordinal);

    OnnxValue EmitTracked(OnnxModuleEmitter emitter, nn.Module module, string path, OnnxValue input)
    {
        var call = new ModuleCall(path, module, _callStack.TryPeek(out var parent) ? parent : null, input);
        Calls!.Add(call);
        _callStack.Push(call);
        try
        {
            int first = Nodes.Count;
            var output = emitter(this, module, path, input);
            // A call that passes a value through (Dropout, Identity) gets a node of its own, so the graph can show it.
            if (!Nodes.Skip(first).Any(n => n.Output.Contains(output.Name))) output = Unary("Identity", path, output);
            call.Output = output;
            return output;
        }
        finally
        {
            _callStack.Pop();
        }
    }
}
