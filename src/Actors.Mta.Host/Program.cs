using Actors.Mta.Core.Configuration;
using Actors.Mta.Core.Listening;
using Actors.Mta.Host;
using Akka.Configuration;
using Microsoft.Extensions.Hosting;
using Serilog;

// Exit codes follow sysexits.h: 64 for a bad command line, 78 for a bad configuration, 1 for a failed start.
const int ExitUsage = 64;
const int ExitConfig = 78;

// The queue verb is an operator's tool that reads the spool and exits, so it starts no actor system.
if (args.Length > 0 && args[0] == "queue")
{
    using var stdout = Console.OpenStandardOutput();
    return QueueCommand.Run(args[1..], stdout, Console.Error);
}

// Until the configuration is read, the log has akka.hocon's default settings.
Log.Logger = LoggingSetup.Create(LoggingSetup.Defaults);

try
{
    if (!CommandLine.TryParse(args, out var options, out string usageError))
    {
        Console.Error.WriteLine(usageError);
        Console.Error.WriteLine(CommandLine.Usage);
        return ExitUsage;
    }

    if (options.ShowHelp)
    {
        Console.WriteLine(CommandLine.Usage);
        return 0;
    }

    Config config;
    MtaSettings settings;
    try
    {
        (config, settings) = ServerConfiguration.Load(options.ConfigPath);
    }
    catch (InvalidConfigurationException ex)
    {
        Log.Fatal("Invalid configuration in {Path}: {Error}", options.ConfigPath, ex.Message);
        return ExitConfig;
    }

    LoggingSetup.Apply(settings.Logging);
    var inherited = SystemdSockets.Take();
    var host = ServerHost.Build(config, settings, inherited, options.ConfigPath);
    await host.RunAsync();
    return Environment.ExitCode;
}
catch (Exception ex)
{
    Log.Fatal(ex, "Server failed: {Error}", ex.Message);
    return 1;
}
finally
{
    await Log.CloseAndFlushAsync();
}
