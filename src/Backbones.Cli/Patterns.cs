using System.Text.RegularExpressions;

namespace Backbones.Cli;

/// <summary>Regular expressions and REGEX=REPLACEMENT renames given on the command line, with errors naming the option.</summary>
internal static class Patterns
{
    public static (Regex, string) ParseRename(string spec, string option = "--rename")
    {
        int eq = spec.IndexOf('=');
        if (eq <= 0) throw new CliUsageException($"{option} '{spec}' is not REGEX=REPLACEMENT");
        return (Parse(spec[..eq], option), spec[(eq + 1)..]);
    }

    public static Regex Parse(string pattern, string option)
    {
        try
        {
            return new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException e)
        {
            throw new CliUsageException($"{option} '{pattern}' is not a valid regular expression: {e.Message}");
        }
    }
}
