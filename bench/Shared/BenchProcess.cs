/// <summary>Facts about the running benchmark process and where it runs: the repository root, page faults, load.</summary>
static class BenchProcess
{
    /// <summary>The repository root: where bench/ sits beside Directory.Build.props (dotnet run keeps the caller's directory).</summary>
    public static string FindRepo()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Directory.Build.props")) && Directory.Exists(Path.Combine(dir.FullName, "bench")))
                    return dir.FullName;
        throw new DirectoryNotFoundException("run the benchmark from inside the repository");
    }

    /// <summary>Minor page faults of this process so far (field 10 of /proc/self/stat): each one a page touched for the first time.</summary>
    public static long MinorPageFaults()
    {
        string stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // the name in parentheses may hold spaces
        return long.Parse(fields[7], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The machine's load averages as /proc/loadavg gives them.</summary>
    public static string LoadAverage() => File.ReadAllText("/proc/loadavg").Trim();

    /// <summary>The CPU's model name from /proc/cpuinfo.</summary>
    public static string? CpuName() => File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':')[1].Trim();

    /// <summary>Writes a results file whole or not at all (a reader never sees half a report); NaN and infinities allowed by default.</summary>
    public static void WriteReport(string path, object report, System.Text.Json.JsonSerializerOptions? options = null)
    {
        options ??= new System.Text.Json.JsonSerializerOptions
        {
            WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        };
        File.WriteAllText(path + ".tmp", System.Text.Json.JsonSerializer.Serialize(report, options));
        File.Move(path + ".tmp", path, overwrite: true);
    }
}
