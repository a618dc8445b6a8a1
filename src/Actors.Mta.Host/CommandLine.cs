namespace Actors.Mta.Host;

/// <summary>The command-line options of the server.</summary>
internal sealed record CommandLineOptions(string ConfigPath, bool ShowHelp);

internal static class CommandLine
{
    public const string Usage =
        "Usage: actors-mta [--config PATH]\n" +
        "       actors-mta queue list|show ID|retry ID|retry --all|delete ID [--config PATH]   (see actors-mta queue --help)\n" +
        "  --config PATH   configuration file (default: akka.hocon in the working directory)\n" +
        "  --help          show this text";

    public static bool TryParse(string[] args, out CommandLineOptions options, out string error)
    {
        string path = Path.Combine(Directory.GetCurrentDirectory(), "akka.hocon");
        bool help = false;
        options = new CommandLineOptions(path, false);
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--config" when i + 1 < args.Length:
                    path = Path.GetFullPath(args[++i]);
                    break;
                case "--help" or "-h":
                    help = true;
                    break;
                default:
                    error = $"Unknown or incomplete option: {args[i]}";
                    return false;
            }
        }

        options = new CommandLineOptions(path, help);
        error = "";
        return true;
    }
}
