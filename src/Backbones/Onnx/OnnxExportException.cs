namespace Backbones.Onnx;

/// <summary>
/// A model, or one module of it, that the exporter cannot express exactly in ONNX: names the module path and type so
/// the user knows what to change or which emitter to supply, instead of receiving a wrong graph.
/// </summary>
public sealed class OnnxExportException : Exception
{
    public OnnxExportException(string modulePath, Type? moduleType, string message)
        : base($"{Describe(modulePath, moduleType)}: {message}")
    {
        ModulePath = modulePath;
        ModuleType = moduleType;
    }

    public OnnxExportException(string message) : base(message) => ModulePath = "";

    /// <summary>The module's path in the model (<c>layer3.1.conv2</c>; empty for the model itself).</summary>
    public string ModulePath { get; }

    public Type? ModuleType { get; }

    static string Describe(string path, Type? type) =>
        $"module '{(path.Length == 0 ? "(the model)" : path)}'" + (type is null ? "" : $" of type {type.FullName}");
}
