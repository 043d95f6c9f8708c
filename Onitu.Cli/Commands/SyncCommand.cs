using System.CommandLine;
using System.Diagnostics;
using System.Globalization;

namespace Onitu.Cli.Commands;

/// <summary><c>onitu sync &lt;setup&gt;</c>: one pass, exit when converged.</summary>
internal static class SyncCommand
{
    public static Command Create()
    {
        var command = new Command("sync", "Sync once: scan every service, propagate every change, exit when done (exit code 2 if anything failed).");
        CommonOptions.AddEngineOptions(command);
        command.SetAction((result, cancellationToken) => CommonOptions.WithEngineAsync(result, async engine =>
        {
            using var progressStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var mode = ProgressReporter.ModeFor(result.GetValue(CommonOptions.Quiet), result.GetValue(CommonOptions.Verbose));
            var progress = ProgressReporter.RunAsync(engine, Console.Error, mode, progressStop.Token);
            var clock = Stopwatch.StartNew();
            SyncReport report;
            try
            {
                report = await engine.SyncOnceAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine("Interrupted: unfinished transfers resume at the next run.");
                return ExitCodes.Incomplete;
            }
            finally
            {
                await progressStop.CancelAsync();
                await progress;
            }

            // The summary: what moved, how much, how long, what is left.
            var bytes = ProgressReporter.FormatBytes(engine.GetProgress().BytesTransferred);
            var seconds = clock.Elapsed.TotalSeconds.ToString("0.0#", CultureInfo.InvariantCulture);
            Console.WriteLine(report.Skipped.Count == 0
                ? $"{report.FilesSynced} changes propagated ({bytes}) in {seconds} s, {report.PendingJobs} left."
                : $"{report.FilesSynced} changes propagated ({bytes}) in {seconds} s, {report.PendingJobs} left, {report.Skipped.Count} skipped.");
            const int shownSkips = 10;
            foreach (var skipped in report.Skipped.Take(shownSkips))
                Console.Error.WriteLine($"skipped: {skipped.Service} {skipped.Folder}:{skipped.Path}: {skipped.Reason}");
            if (report.Skipped.Count > shownSkips)
                Console.Error.WriteLine($"skipped: … and {report.Skipped.Count - shownSkips} more (see the log)");
            foreach (var error in report.Errors)
                Console.Error.WriteLine($"error: {error}");
            return report.Succeeded ? ExitCodes.Success : ExitCodes.Incomplete;
        }));
        return command;
    }
}
