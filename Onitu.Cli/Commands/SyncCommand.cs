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
        var dryRun = new Option<bool>("--dry-run", "-n")
        {
            Description = "Show what the pass would copy, delete, move and keep as conflict copies, and what a guard would refuse; change nothing.",
        };
        command.Options.Add(dryRun);
        command.SetAction((result, cancellationToken) => CommonOptions.WithEngineAsync(result, cancellationToken, async engine =>
        {
            if (result.GetValue(dryRun))
                return await PrintPlanAsync(engine, cancellationToken);

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
            var bytes = ProgressReporter.FormatBytes((await engine.GetProgressAsync(CancellationToken.None)).BytesTransferred);
            var seconds = clock.Elapsed.TotalSeconds.ToString("0.0#", CultureInfo.InvariantCulture);
            // "0 left" alone would read as "all done" after a refusal (a guard holding deletions is no job): the
            // errors printed below are counted here too.
            var summary = $"{report.FilesSynced} changes propagated ({bytes}) in {seconds} s, {report.PendingJobs} left";
            if (report.Skipped.Count > 0)
                summary += $", {report.Skipped.Count} skipped";
            if (report.Errors.Count > 0)
                summary += report.Errors.Count == 1 ? ", 1 error" : $", {report.Errors.Count} errors";
            Console.WriteLine(summary + ".");
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

    private static async Task<int> PrintPlanAsync(SyncEngine engine, CancellationToken cancellationToken)
    {
        SyncPlan plan;
        try
        {
            plan = await engine.DryRunAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("Interrupted.");
            return ExitCodes.Incomplete;
        }
        foreach (var action in plan.Actions)
        {
            Console.WriteLine(action.Kind switch
            {
                PlannedActionKind.Move => $"move    {action.Folder}:{action.FromPath} -> {action.Path} on {action.Service}",
                PlannedActionKind.Delete => $"delete  {action.Folder}:{action.Path} on {action.Service}",
                _ when action.KeepsOwnAs is { } kept => $"copy    {action.Folder}:{action.Path} to {action.Service} (its own content kept as {kept})",
                _ => $"copy    {action.Folder}:{action.Path} to {action.Service}",
            });
        }
        foreach (var conflict in plan.Conflicts)
            Console.WriteLine($"conflict {conflict.Folder}:{conflict.Path}: the content from {conflict.LosingService} kept as {conflict.ConflictPath}");
        foreach (var skipped in plan.Skipped)
            Console.WriteLine($"skip    {skipped.Folder}:{skipped.Path} on {skipped.Service}: {skipped.Reason}");
        foreach (var refusal in plan.Refusals)
            Console.WriteLine($"refused {refusal}");
        var counts = plan.Actions.GroupBy(a => a.Kind).ToDictionary(g => g.Key, g => g.Count());
        Console.WriteLine($"Dry run: {counts.GetValueOrDefault(PlannedActionKind.Copy)} to copy, {counts.GetValueOrDefault(PlannedActionKind.Delete)} to delete, " +
                          $"{counts.GetValueOrDefault(PlannedActionKind.Move)} to move, {plan.Conflicts.Count} conflicts, {plan.Refusals.Count} refused; nothing was changed.");
        return plan.WouldSucceed ? ExitCodes.Success : ExitCodes.Incomplete;
    }
}
