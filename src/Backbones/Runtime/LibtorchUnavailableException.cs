namespace Backbones.Runtime;

/// <summary>
/// libtorch could not be loaded on this machine; the message is a paragraph for the user, not a trace.
/// </summary>
public sealed class LibtorchUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
