using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

/// <summary>
/// Debian PyTorch's torch.load, timed inside one long-lived Python process (bench/peers/torch_load.py),
/// so interpreter start-up and <c>import torch</c> never enter the numbers.
/// </summary>
sealed class TorchPeer : IDisposable
{
    readonly Process _process;

    public string TorchVersion { get; }

    public TorchPeer(string python, string script)
    {
        var info = new ProcessStartInfo(python) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(script);
        _process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {python}");
        TorchVersion = (string)Receive()["torch"]!;
    }

    /// <summary>One torch.load of <paramref name="path"/> as Python timed it; throws with Python's message if it failed.</summary>
    /// <param name="fresh">Hand the peer's free memory back to the kernel first, so the load gets new pages.</param>
    public (double Seconds, long Faults, int Tensors, long Bytes) Load(string path, bool weightsOnly, bool fresh = false)
    {
        _process.StandardInput.WriteLine(JsonSerializer.Serialize(new { path, runs = 1, weights_only = weightsOnly, fresh }));
        _process.StandardInput.Flush();
        var answer = Receive();
        if (answer["error"] is JsonNode error) throw new InvalidOperationException((string)error!);
        return ((double)answer["seconds"]![0]!, (long)answer["faults"]![0]!, (int)answer["tensors"]!, (long)answer["bytes"]!);
    }

    JsonNode Receive() =>
        JsonNode.Parse(_process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("the Python peer exited (its messages are above)"))!;

    public void Dispose()
    {
        _process.StandardInput.Close(); // end of input: the peer's loop ends
        if (!_process.WaitForExit(10_000)) _process.Kill();
        _process.Dispose();
    }
}
