using System.Security.Cryptography;
using Backbones.Tests.Support;
using Backbones.Weights;

namespace Backbones.Tests.Weights;

/// <summary>Downloads against a real HTTP server on 127.0.0.1: verified, resumed, refused and timed out as users need.</summary>
public sealed class WeightsDownloadTests
{
    static CancellationToken Cancel => TestContext.Current.CancellationToken;

    static (byte[] Content, string Prefix) RandomFile(int size = 700_000)
    {
        var content = new byte[size];
        new Random(size).NextBytes(content);
        return (content, Convert.ToHexStringLower(SHA256.HashData(content))[..8]);
    }

    static WeightsInfo Weights(string url, string fileName, string prefix) =>
        new("resnet18", "ResNet18_Weights", "TEST", false, url, fileName, prefix, 0, null, null, 1000,
            new Preprocessing(256, 224, "bilinear", [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]), []);

    [Fact]
    public async Task DownloadsVerifiesAndRenamesIntoTheCache()
    {
        using var server = new LocalHttpServer();
        var (content, prefix) = RandomFile();
        string name = $"tiny-{prefix}.pth";
        server.Serve("/models/" + name, content);
        string cache = TempFolder.Create("cache");
        var reports = new List<DownloadProgress>();
        var progress = new Progress<DownloadProgress>(reports.Add);
        string path = await WeightsDownloader.EnsureAsync(Weights($"{server.BaseUrl}/models/{name}", name, prefix),
            new DownloadOptions { CacheFolder = cache, Progress = new SyncProgress(reports) }, Cancel);
        Assert.Equal(Path.Combine(cache, name), path);
        Assert.Equal(content, File.ReadAllBytes(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(cache));
        Assert.Equal(content.Length, reports[^1].Received);
        Assert.Equal(content.Length, reports[^1].Total);
        // A second call finds it in the cache: no new request.
        await WeightsDownloader.EnsureAsync(Weights($"{server.BaseUrl}/models/{name}", name, prefix), new DownloadOptions { CacheFolder = cache }, Cancel);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task WrongHashDeletesTheDownloadAndNamesBothHashes()
    {
        using var server = new LocalHttpServer();
        var (content, _) = RandomFile();
        server.Serve("/w-deadbeef.pth", content);
        string cache = TempFolder.Create("cache");
        var e = await Assert.ThrowsAsync<WeightsDownloadException>(() => WeightsDownloader.EnsureAsync(
            Weights($"{server.BaseUrl}/w-deadbeef.pth", "w-deadbeef.pth", "deadbeef"), new DownloadOptions { CacheFolder = cache }, Cancel));
        Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(content)), e.Message);
        Assert.Contains("does not start with deadbeef", e.Message);
        Assert.Empty(Directory.GetFiles(cache));
    }

    [Fact]
    public async Task ResumesADroppedTransferWithARangeRequest()
    {
        using var server = new LocalHttpServer { DropAfter = 300_000 };
        var (content, prefix) = RandomFile();
        string name = $"r-{prefix}.pth";
        server.Serve("/" + name, content);
        string cache = TempFolder.Create("cache");
        string path = await WeightsDownloader.EnsureAsync(Weights($"{server.BaseUrl}/{name}", name, prefix), new DownloadOptions { CacheFolder = cache }, Cancel);
        Assert.Equal(content, File.ReadAllBytes(path));
        var requests = server.Requests;
        Assert.Equal(2, requests.Count);
        Assert.Null(requests[0].Range);
        Assert.Equal("bytes=300000-", requests[1].Range);
    }

    [Fact]
    public async Task NotFoundNamesTheUrlAndWhereToPutTheFile()
    {
        using var server = new LocalHttpServer();
        string cache = TempFolder.Create("cache");
        string url = $"{server.BaseUrl}/missing-12345678.pth";
        var e = await Assert.ThrowsAsync<WeightsDownloadException>(() => WeightsDownloader.EnsureAsync(
            Weights(url, "missing-12345678.pth", "12345678"), new DownloadOptions { CacheFolder = cache }, Cancel));
        Assert.Equal($"could not download {url}: the server answered 404 NotFound. To install it by hand, download the file and put it at {Path.Combine(cache, "missing-12345678.pth")}", e.Message);
    }

    [Fact]
    public async Task ASilentServerTimesOut()
    {
        using var server = new LocalHttpServer { Delay = TimeSpan.FromSeconds(20) };
        var (content, prefix) = RandomFile();
        server.Serve("/slow.pth", content);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<WeightsDownloadException>(() => WeightsDownloader.EnsureAsync(
            Weights($"{server.BaseUrl}/slow.pth", "slow.pth", prefix),
            new DownloadOptions { CacheFolder = TempFolder.Create("cache"), StallTimeout = TimeSpan.FromMilliseconds(500) }, Cancel));
        Assert.Contains("timed out", e.Message);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.4, 10);
    }

    [Fact]
    public async Task OfflineNamesTheUrlAndTheCachePath()
    {
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0)) { probe.Start(); port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port; }
        string cache = TempFolder.Create("cache");
        string url = $"http://127.0.0.1:{port}/gone-12345678.pth";
        var e = await Assert.ThrowsAsync<WeightsDownloadException>(() => WeightsDownloader.EnsureAsync(
            Weights(url, "gone-12345678.pth", "12345678"), new DownloadOptions { CacheFolder = cache }, Cancel));
        Assert.StartsWith($"could not download {url}: ", e.Message);
        Assert.EndsWith($"put it at {Path.Combine(cache, "gone-12345678.pth")}", e.Message);
    }

    [Fact]
    public async Task AMirrorServesTheFileByName()
    {
        using var mirror = new LocalHttpServer();
        var (content, prefix) = RandomFile();
        string name = $"m-{prefix}.pth";
        mirror.Serve("/weights/" + name, content);
        string path = await WeightsDownloader.EnsureAsync(Weights("https://download.pytorch.org/models/" + name, name, prefix),
            new DownloadOptions { CacheFolder = TempFolder.Create("cache"), MirrorBaseUrl = mirror.BaseUrl + "/weights/" }, Cancel);
        Assert.Equal(content, File.ReadAllBytes(path));
        Assert.Equal("/weights/" + name, mirror.Requests.Single().Path);
    }

    /// <summary>Progress&lt;T&gt; posts to the thread pool; this records synchronously so the last report is the last.</summary>
    sealed class SyncProgress(List<DownloadProgress> into) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) { lock (into) into.Add(value); }
    }
}
