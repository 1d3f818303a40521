using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Backbones.Tests.Support;

/// <summary>
/// A real HTTP/1.1 server on 127.0.0.1 for download tests: serves byte arrays by path with Range support, and can
/// drop a connection mid-file, answer slowly, or answer 404. Records every request it received.
/// </summary>
public sealed class LocalHttpServer : IDisposable
{
    readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    readonly CancellationTokenSource _stop = new();
    readonly Dictionary<string, byte[]> _files = new();
    readonly List<(string Path, string? Range)> _requests = new();

    /// <summary>Bytes after which the next response is cut off (once), or null.</summary>
    public long? DropAfter { get; set; }

    /// <summary>Delay before any response is sent.</summary>
    public TimeSpan Delay { get; set; } = TimeSpan.Zero;

    public LocalHttpServer()
    {
        _listener.Start();
        _ = Task.Run(AcceptLoop);
    }

    public string BaseUrl => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    public void Serve(string path, byte[] content) { lock (_files) _files[path] = content; }

    public IReadOnlyList<(string Path, string? Range)> Requests { get { lock (_requests) return _requests.ToList(); } }

    async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            _ = Task.Run(() => Handle(client));
        }
    }

    async Task Handle(TcpClient client)
    {
        using var _ = client;
        try
        {
            var stream = client.GetStream();
            var reader = new StreamReader(stream, Encoding.ASCII, false, 1024, leaveOpen: true);
            string? requestLine = await reader.ReadLineAsync();
            if (requestLine is null) return;
            string path = requestLine.Split(' ')[1];
            string? range = null;
            for (string? line; !string.IsNullOrEmpty(line = await reader.ReadLineAsync());)
                if (line.StartsWith("Range:", StringComparison.OrdinalIgnoreCase)) range = line[6..].Trim();
            lock (_requests) _requests.Add((path, range));
            if (Delay > TimeSpan.Zero) await Task.Delay(Delay, _stop.Token);

            byte[]? content;
            lock (_files) _files.TryGetValue(path, out content);
            if (content is null)
            {
                await Write(stream, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                return;
            }
            long start = range is not null && range.StartsWith("bytes=") ? long.Parse(range[6..].TrimEnd('-').Split('-')[0]) : 0;
            string status = start > 0 ? "206 Partial Content" : "200 OK";
            string rangeHeader = start > 0 ? $"Content-Range: bytes {start}-{content.Length - 1}/{content.Length}\r\n" : "";
            await Write(stream, $"HTTP/1.1 {status}\r\nContent-Length: {content.Length - start}\r\n{rangeHeader}Connection: close\r\n\r\n");
            long end = content.Length;
            if (DropAfter is { } drop) { end = Math.Min(end, start + drop); DropAfter = null; }
            await stream.WriteAsync(content.AsMemory((int)start, (int)(end - start)));
            await stream.FlushAsync();
            // Closing early (end < length) leaves the client short of the Content-Length it was promised.
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
        {
        }
    }

    static Task Write(NetworkStream stream, string text) => stream.WriteAsync(Encoding.ASCII.GetBytes(text)).AsTask();

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }
}
