using System.Runtime.CompilerServices;

namespace Backbones.Tests;

/// <summary>
/// Loads libtorch before any test runs: a test that calls TorchSharp before touching a Backbones type would
/// otherwise make TorchSharp probe on its own, fail on Debian 12's libstdc++, and cache that failure for the run.
/// </summary>
internal static class LibtorchFirst
{
#pragma warning disable CA2255 // running before every test is the point
    [ModuleInitializer]
    internal static void Load() => Backbones.Runtime.Libtorch.EnsureLoaded();
#pragma warning restore CA2255
}
