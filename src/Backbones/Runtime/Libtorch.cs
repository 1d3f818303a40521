using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using TorchSharp;

namespace Backbones.Runtime;

/// <summary>
/// Makes TorchSharp's native library load on Linux systems whose libstdc++ is older than the one it was linked
/// against (Debian 12, Ubuntu 22.04), and turns any remaining load failure into one readable explanation.
/// </summary>
/// <remarks>
/// libLibTorchSharp.so 0.107 declares a need for GLIBCXX_3.4.32 only because of std::ios_base_library_init(),
/// a link-time marker no code calls. When the system lacks a version whose only symbols are such markers,
/// a copy of the library with those needs marked weak (VER_FLG_WEAK) is loaded instead; otherwise nothing changes.
/// </remarks>
public static class Libtorch
{
    const string TorchSharpNative = "LibTorchSharp";
    const string NativeFileName = "libLibTorchSharp.so";

    /// <summary>Symbols that exist only to mark the libstdc++ version a program was linked with.</summary>
    static readonly HashSet<string> MarkerSymbols = new(StringComparer.Ordinal) { "_ZSt21ios_base_library_initv" };

    static readonly object Gate = new();
    static IntPtr _patchedHandle;
    static bool _resolverRegistered;
    static bool _initialised;

    /// <summary>Where the patched copy was loaded from, when one was needed.</summary>
    public static string? PatchedLibraryPath { get; private set; }

    static LibtorchUnavailableException? _preloadFailure;

    /// <summary>
    /// Runs when the library is first touched, before TorchSharp can probe for its native library on its own:
    /// TorchSharp's probing by name then finds the patched copy already loaded (matched by soname).
    /// </summary>
#pragma warning disable CA2255 // a library initializer is the point: it must run before TorchSharp probes on its own
    [ModuleInitializer]
    internal static void PrepareOnLoad()
    {
        RegisterResolver();
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            lock (Gate) PreloadPatchedIfNeeded();
        }
        catch (Exception e)
        {
            // A module initializer must not throw; EnsureLoaded reports this.
            _preloadFailure = e as LibtorchUnavailableException
                ?? new LibtorchUnavailableException("Preparing libtorch failed: " + FirstLine(e), e);
        }
    }
#pragma warning restore CA2255

    /// <summary>
    /// Loads libtorch through TorchSharp once, or throws <see cref="LibtorchUnavailableException"/> with a paragraph
    /// saying why and what to do. Every library entry point that touches tensors calls this first.
    /// </summary>
    public static void EnsureLoaded()
    {
        if (_initialised) return;
        lock (Gate)
        {
            if (_initialised) return;
            if (_preloadFailure is not null) throw _preloadFailure;
            try
            {
                torch.InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception e) when (e is not LibtorchUnavailableException)
            {
                throw new LibtorchUnavailableException(
                    "TorchSharp could not start libtorch (" + FirstLine(e) + "). Check that the TorchSharp-cpu 0.107.0 package " +
                    "was restored (dotnet restore) and that its native files sit next to the application or in its " +
                    "runtimes/<rid>/native folder.", e);
            }
            _initialised = true;
            LibtorchContext.DisableNnpack();
        }
    }

    static void RegisterResolver()
    {
        lock (Gate)
        {
            if (_resolverRegistered) return;
            _resolverRegistered = true;
            try
            {
                NativeLibrary.SetDllImportResolver(typeof(torch).Assembly, Resolve);
            }
            catch (InvalidOperationException)
            {
                // Someone else owns TorchSharp's resolver; default probing applies.
            }
        }
    }

    static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != TorchSharpNative || !OperatingSystem.IsLinux()) return IntPtr.Zero;
        try
        {
            lock (Gate)
            {
                PreloadPatchedIfNeeded();
                return _patchedHandle;
            }
        }
        catch (LibtorchUnavailableException)
        {
            return IntPtr.Zero; // let TorchSharp report; EnsureLoaded reports it readably
        }
    }

    static bool _checked;

    static void PreloadPatchedIfNeeded()
    {
        if (_checked) return;
        _checked = true;
        string? original = FindTorchSharpNative();
        if (original is null) return; // TorchSharp's own search and message apply

        byte[] image = File.ReadAllBytes(original);
        var missing = MissingVersionNeeds(image);
        if (missing.Count == 0) return;

        var notMarkers = missing.Where(n => !ElfVersionNeeds.SymbolsOfVersion(image, n.Index).All(MarkerSymbols.Contains)).ToList();
        if (notMarkers.Count > 0)
            throw new LibtorchUnavailableException(
                $"{original} needs {string.Join(", ", notMarkers.Select(n => n.Version))} from {notMarkers[0].File}, " +
                $"which this system's C++ runtime ({SystemLibstdcxxPath() ?? "libstdc++.so.6"}) does not provide. " +
                "Install a newer libstdc++ (GCC 13 or later) or run on a newer distribution.");

        ElfVersionNeeds.MarkWeak(image, missing);
        string patched = WritePatchedCopy(image, original);
        string directory = Path.GetDirectoryName(original)!;
        // The copy lives elsewhere, so its $ORIGIN run path no longer finds libtorch: load its neighbours first,
        // by full path, so the loader matches them by soname.
        foreach (var needed in ElfVersionNeeds.ReadNeededLibraries(image))
        {
            string beside = Path.Combine(directory, needed);
            if (File.Exists(beside)) LoadOrExplain(beside);
        }
        _patchedHandle = LoadOrExplain(patched);
        PatchedLibraryPath = patched;
    }

    /// <summary>GLIBCXX/CXXABI version needs of the image that the loaded libstdc++ does not define.</summary>
    static List<ElfVersionNeeds.VersionNeed> MissingVersionNeeds(byte[] image)
    {
        string? libstdcxx = SystemLibstdcxxPath();
        if (libstdcxx is null) return [];
        var defined = ElfVersionNeeds.ReadDefinitions(File.ReadAllBytes(libstdcxx));
        return ElfVersionNeeds.ReadNeeds(image)
            .Where(n => n.File == "libstdc++.so.6" && !n.IsWeak && !defined.Contains(n.Version))
            .ToList();
    }

    /// <summary>The libstdc++ the dynamic loader would bind, found by loading it and reading this process's map.</summary>
    static string? SystemLibstdcxxPath()
    {
        if (!NativeLibrary.TryLoad("libstdc++.so.6", out _)) return null;
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            int slash = line.IndexOf('/');
            if (slash >= 0 && line.Contains("/libstdc++.so.6", StringComparison.Ordinal))
                return line[slash..].Trim();
        }
        return null;
    }

    internal static string? FindTorchSharpNative()
    {
        var folders = new List<string>();
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string searchDirs)
            folders.AddRange(searchDirs.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        string? torchSharpDir = Path.GetDirectoryName(typeof(torch).Assembly.Location);
        if (!string.IsNullOrEmpty(torchSharpDir))
        {
            folders.Add(torchSharpDir);
            folders.Add(Path.Combine(torchSharpDir, "runtimes", RuntimeInformation.RuntimeIdentifier, "native"));
            folders.Add(Path.Combine(torchSharpDir, "runtimes", "linux-x64", "native"));
        }
        folders.Add(AppContext.BaseDirectory);
        return folders.Select(f => Path.Combine(f, NativeFileName)).FirstOrDefault(File.Exists);
    }

    /// <summary>Writes the patched image once per distinct original, atomically, in the user's cache.</summary>
    static string WritePatchedCopy(byte[] image, string original)
    {
        string hash = Convert.ToHexStringLower(SHA256.HashData(image))[..16];
        foreach (string root in CacheRoots())
        {
            try
            {
                string folder = Path.Combine(root, "backbones", "native", hash);
                string target = Path.Combine(folder, NativeFileName);
                if (File.Exists(target) && new FileInfo(target).Length == image.Length) return target;
                Directory.CreateDirectory(folder);
                string temp = Path.Combine(folder, $".{NativeFileName}.{Environment.ProcessId}.tmp");
                File.WriteAllBytes(temp, image);
                File.Move(temp, target, overwrite: true);
                return target;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // try the next place
            }
        }
        throw new LibtorchUnavailableException(
            $"{original} needs a one-byte compatibility fix for this system's libstdc++, but no writable cache folder " +
            "was found for the fixed copy. Set XDG_CACHE_HOME to a writable folder.");
    }

    static IEnumerable<string> CacheRoots()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrEmpty(xdg)) yield return xdg;
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (!string.IsNullOrEmpty(home)) yield return Path.Combine(home, ".cache");
        yield return Path.GetTempPath();
    }

    static IntPtr LoadOrExplain(string path)
    {
        try
        {
            return NativeLibrary.Load(path);
        }
        catch (DllNotFoundException e)
        {
            throw new LibtorchUnavailableException($"The native library {path} could not be loaded: {FirstLine(e)}", e);
        }
    }

    static string FirstLine(Exception e)
    {
        var inner = e;
        while (inner.InnerException is not null && inner is TypeInitializationException) inner = inner.InnerException;
        return inner.Message.Split('\n')[0].Trim();
    }
}
