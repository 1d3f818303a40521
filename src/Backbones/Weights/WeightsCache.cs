namespace Backbones.Weights;

/// <summary>
/// torch hub's checkpoint cache, so weights a user already downloaded with PyTorch are found without a download:
/// <c>$TORCH_HOME/hub/checkpoints</c>, where TORCH_HOME defaults to <c>${XDG_CACHE_HOME:-~/.cache}/torch</c>.
/// </summary>
public static class WeightsCache
{
    public static string Folder
    {
        get
        {
            string? torchHome = Environment.GetEnvironmentVariable("TORCH_HOME");
            if (string.IsNullOrEmpty(torchHome))
            {
                string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
                if (string.IsNullOrEmpty(xdg)) xdg = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
                torchHome = Path.Combine(xdg, "torch");
            }
            return Path.Combine(torchHome, "hub", "checkpoints");
        }
    }

    /// <summary>Where <paramref name="weights"/> lives in the cache (whether or not it is there yet).</summary>
    public static string PathOf(WeightsInfo weights) => Path.Combine(Folder, weights.FileName);

    public static bool Contains(WeightsInfo weights) => File.Exists(PathOf(weights));
}
