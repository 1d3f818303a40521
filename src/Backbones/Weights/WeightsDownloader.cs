using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace Backbones.Weights;

/// <summary>How to fetch weights: from where, how patiently, and whom to tell about progress.</summary>
public sealed record DownloadOptions
{
    /// <summary>Environment variable naming a mirror that serves the weight files by file name.</summary>
    public const string MirrorVariable = "BACKBONES_WEIGHTS_MIRROR";

    /// <summary>Base URL replacing the official host (the file name is appended); null reads <see cref="MirrorVariable"/>.</summary>
    public string? MirrorBaseUrl { get; init; }

    /// <summary>Longest wait for the server to answer or send more data before the attempt fails.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How many times a dropped transfer resumes (HTTP Range) before the download fails.</summary>
    public int Resumes { get; init; } = 3;

    public IProgress<DownloadProgress>? Progress { get; init; }

    /// <summary>Where to download to instead of torch hub's cache folder.</summary>
    public string? CacheFolder { get; init; }
}

/// <summary>Bytes received so far, of how many (when the server says), and the rate over the transfer.</summary>
public sealed record DownloadProgress(long Received, long? Total, double BytesPerSecond);

/// <summary>A download that failed: offline, refused, wrong hash. The message names the URL and where to put the file by hand.</summary>
public sealed class WeightsDownloadException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Fetches official weights into torch hub's cache: resumes an interrupted transfer with HTTP Range, checks the
/// SHA-256 prefix in the file name before the file enters the cache, and renames it into place atomically.
/// </summary>
public static class WeightsDownloader
{
    static readonly HttpClient Client = new(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None })
    {
        Timeout = Timeout.InfiniteTimeSpan, // stalls are timed per read instead
    };

    /// <summary>The cached file for <paramref name="weights"/>, downloading it first when it is not there.</summary>
    public static string Ensure(WeightsInfo weights, DownloadOptions? options = null) =>
        EnsureAsync(weights, options).GetAwaiter().GetResult();

    public static async Task<string> EnsureAsync(WeightsInfo weights, DownloadOptions? options = null, CancellationToken cancel = default)
    {
        options ??= new DownloadOptions();
        string target = Path.Combine(options.CacheFolder ?? WeightsCache.Folder, weights.FileName);
        if (File.Exists(target)) return target;
        string? mirror = options.MirrorBaseUrl ?? Environment.GetEnvironmentVariable(DownloadOptions.MirrorVariable);
        string url = string.IsNullOrEmpty(mirror) ? weights.Url : mirror.TrimEnd('/') + "/" + weights.FileName;
        await DownloadAsync(url, target, weights.Sha256Prefix, options, cancel);
        return target;
    }

    /// <summary>Downloads <paramref name="url"/> to <paramref name="target"/> through <c>target.partial</c>, verified.</summary>
    public static async Task DownloadAsync(string url, string target, string sha256Prefix, DownloadOptions options, CancellationToken cancel = default)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(target))!);
        string partial = target + ".partial";
        var clock = Stopwatch.StartNew();
        long startedAt = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await TransferAsync(url, partial, options, clock, startedAt, cancel);
                break;
            }
            catch (Exception e) when (IsTransient(e) && attempt < options.Resumes && !cancel.IsCancellationRequested)
            {
                // Dropped mid-file: ask for the rest.
            }
            catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException && !cancel.IsCancellationRequested)
            {
                throw new WeightsDownloadException(
                    $"could not download {url}: {Reason(e)}. To install it by hand, download the file and put it at {target}", e);
            }
        }

        string actual = await HashAsync(partial, cancel);
        if (!actual.StartsWith(sha256Prefix, StringComparison.OrdinalIgnoreCase))
        {
            File.Delete(partial);
            throw new WeightsDownloadException(
                $"downloaded {url} but its SHA-256 is {actual}, which does not start with {sha256Prefix} as its name promises; the file was deleted");
        }
        File.Move(partial, target, overwrite: true);
    }

    static async Task TransferAsync(string url, string partial, DownloadOptions options, Stopwatch clock, long startedAt, CancellationToken cancel)
    {
        long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (have > 0) request.Headers.Range = new RangeHeaderValue(have, null);

        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        stall.CancelAfter(options.StallTimeout);
        using var response = await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stall.Token);
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && have > 0)
        {
            File.Delete(partial); // the partial file is not a prefix of what the server has: start over
            throw new IOException("the server refused to resume; starting over");
        }
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}", null, response.StatusCode);
        bool resumed = response.StatusCode == HttpStatusCode.PartialContent;
        if (!resumed) have = 0; // the server sent the whole file
        long? total = response.Content.Headers.ContentLength is { } length ? length + have : null;

        await using var body = await response.Content.ReadAsStreamAsync(stall.Token);
        await using var file = new FileStream(partial, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        var buffer = new byte[1 << 16];
        long received = have;
        while (true)
        {
            stall.CancelAfter(options.StallTimeout);
            int n = await body.ReadAsync(buffer, stall.Token);
            if (n == 0) break;
            await file.WriteAsync(buffer.AsMemory(0, n), cancel);
            received += n;
            options.Progress?.Report(new DownloadProgress(received, total, (received - startedAt) / Math.Max(clock.Elapsed.TotalSeconds, 1e-3)));
        }
        if (total is { } expected && received != expected)
            throw new IOException($"the connection closed after {received} of {expected} bytes");
    }

    static bool IsTransient(Exception e) => e is IOException || (e is HttpRequestException h && h.StatusCode is null && h.InnerException is IOException);

    static string Reason(Exception e) => e switch
    {
        OperationCanceledException => "the server stopped answering (timed out)",
        HttpRequestException { StatusCode: { } code } => $"the server answered {(int)code} {code}",
        HttpRequestException h => h.InnerException?.Message ?? h.Message,
        _ => e.Message,
    };

    static async Task<string> HashAsync(string path, CancellationToken cancel)
    {
        await using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancel));
    }
}
