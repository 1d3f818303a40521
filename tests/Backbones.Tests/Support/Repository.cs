namespace Backbones.Tests.Support;

/// <summary>Where the repository and this build's configuration are, found from the test binary's location.</summary>
public static class Repository
{
    public static string Root
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Backbones.sln"))) return dir.FullName;
            throw new DirectoryNotFoundException("Backbones.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>Debug or Release, read from the bin/CONFIG/TFM path of the running tests.</summary>
    public static string Configuration => new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
}
