using Backbones.Cli;

namespace Backbones.Tests.Cli;

/// <summary>Runs the backbones command in process, capturing its exit code, standard output and standard error.</summary>
public static class CliRunner
{
    public static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = BackbonesCli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
