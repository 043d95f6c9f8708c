namespace Onitu.Cli.Commands;

/// <summary>How <c>sync</c> and <c>run</c> show progress on stderr.</summary>
internal enum ProgressMode
{
    /// <summary>Nothing (<c>--quiet</c>, or stderr is not a terminal and the run is not verbose).</summary>
    None,

    /// <summary>One line rewritten in place every second: stderr is a terminal.</summary>
    Terminal,

    /// <summary>A new line every second while work is pending: a verbose run whose stderr is a file or a pipe.</summary>
    Lines,
}

/// <summary>Shows the engine's progress on stderr every second while work is pending.</summary>
internal static class ProgressReporter
{
    /// <summary>
    /// The progress display for a command: none with <c>--quiet</c>; a line rewritten in place on a terminal; lines in a
    /// log only with <c>--verbose</c> (a redirected quiet-by-default run prints its summary and problems only).
    /// </summary>
    public static ProgressMode ModeFor(bool quiet, bool verbose) =>
        quiet ? ProgressMode.None : !Console.IsErrorRedirected ? ProgressMode.Terminal : verbose ? ProgressMode.Lines : ProgressMode.None;

    public static async Task RunAsync(SyncEngine engine, TextWriter output, ProgressMode mode, CancellationToken cancellationToken)
    {
        if (mode == ProgressMode.None)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            return;
        }
        var lastShown = string.Empty;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                var progress = await engine.GetProgressAsync(cancellationToken).ConfigureAwait(false);
                // A failing service shows why (a stalled link, a refused key), shortened to fit the line.
                var failing = engine.GetServiceStatuses().Where(s => s.State == ServiceState.Failing)
                    .Select(s => s.Reason is { Length: > 0 } reason ? $"{s.Name} ({Shorten(reason, 60)})" : s.Name).ToList();
                var line = $"pending {progress.PendingJobs}, active {progress.ActiveTransfers}, done {progress.FilesSynced} " +
                           $"({FormatBytes(progress.BytesTransferred)})" + (failing.Count > 0 ? $", failing: {string.Join(", ", failing)}" : "");
                if (line == lastShown || (mode == ProgressMode.Lines && progress.PendingJobs == 0))
                    continue;
                if (mode == ProgressMode.Terminal)
                    output.Write("\r" + line + "\u001b[K"); // ESC[K clears what a longer previous line left
                else
                    output.WriteLine(line);
                lastShown = line;
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            if (mode == ProgressMode.Terminal && lastShown.Length > 0)
                output.Write("\r\u001b[K");
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
