namespace Backbones.Tests.Support;

/// <summary>Runs a program of samples/ (built alongside the tests) as its own process, as `dotnet run` would.</summary>
public static class Samples
{
    public static (int Code, string Output, string Error) Run(string name, params string[] args)
    {
        string dll = Path.Combine(Repository.Root, "samples", name, "bin", Repository.Configuration, "net10.0", name + ".dll");
        Assert.True(File.Exists(dll), $"{dll} not built");
        return PyTorch.Run("dotnet", [dll, .. args], 600);
    }

    /// <summary>The value printed on the sample's line <c>NAME: VALUE</c>.</summary>
    public static string Figure(string output, string name)
    {
        var line = output.Split('\n').Select(l => l.TrimEnd()).FirstOrDefault(l => l.StartsWith(name + ": ", StringComparison.Ordinal));
        Assert.True(line is not null, $"no line '{name}: ...' in:\n{output}");
        return line![(name.Length + 2)..];
    }
}
