using Actors.Mta.LoadRunner;

// Ctrl-C stops the run early and still writes the reports; a second Ctrl-C ends the process.
using var interrupt = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (!interrupt.IsCancellationRequested)
    {
        e.Cancel = true;
        interrupt.Cancel();
    }
};

return await LoadRunnerCommand.RunAsync(args, Console.Out, Console.Error, overwriteProgress: !Console.IsErrorRedirected, interrupt.Token);
