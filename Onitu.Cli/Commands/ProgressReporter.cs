namespace Onitu.Cli.Commands;

/// <summary>Prints one progress line to stderr every second while work is pending.</summary>
internal static class ProgressReporter
{
    public static async Task RunAsync(SyncEngine engine, TextWriter output, CancellationToken cancellationToken)
    {
        var lastShown = string.Empty;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                var progress = engine.GetProgress();
                // A failing service shows why (a stalled link, a refused key), shortened to fit the line.
                var failing = engine.GetServiceStatuses().Where(s => s.State == ServiceState.Failing)
                    .Select(s => s.Reason is { Length: > 0 } reason ? $"{s.Name} ({Shorten(reason, 60)})" : s.Name).ToList();
                var line = $"pending {progress.PendingJobs}, active {progress.ActiveTransfers}, done {progress.FilesSynced} " +
                           $"({FormatBytes(progress.BytesTransferred)})" + (failing.Count > 0 ? $", failing: {string.Join(", ", failing)}" : "");
                if (progress.PendingJobs > 0 && line != lastShown)
                {
                    output.WriteLine(line);
                    lastShown = line;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static string Shorten(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";

    public static string FormatBytes(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => $"{bytes / 1024.0:0.#} KiB",
        < 1024L * 1024 * 1024 => $"{bytes / (1024.0 * 1024):0.#} MiB",
        _ => $"{bytes / (1024.0 * 1024 * 1024):0.##} GiB",
    };
}
