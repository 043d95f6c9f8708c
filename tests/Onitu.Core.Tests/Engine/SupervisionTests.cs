using Microsoft.Data.Sqlite;

namespace Onitu.Core.Tests.Engine;

/// <summary>The engine's own background work is supervised: a failure is reported and recovered, never silent.</summary>
public class SupervisionTests
{
    [Test]
    public async Task A_store_failure_in_the_transfer_scheduler_is_reported_and_the_scheduler_recovers()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        h.Write("A", "docs/before.txt", "before the failure");
        await h.Engine.StartAsync();
        await SyncHarness.EventuallyAsync(() => h.Exists("B", "docs/before.txt"), "the first file synced");

        // The scheduler's next read of the jobs table fails: the table is gone for a moment.
        await using (var outside = new SqliteConnection($"Data Source={h.Engine.DatabasePath};Pooling=False"))
        {
            await outside.OpenAsync();
            await using (var hide = outside.CreateCommand())
            {
                hide.CommandText = "ALTER TABLE jobs RENAME TO jobs_hidden";
                await hide.ExecuteNonQueryAsync();
            }
            await SyncHarness.EventuallyAsync(() => h.Events.OfType<EngineFaulted>().Any(f => f.Component == "transfer scheduler"),
                "the scheduler's failure published as EngineFaulted");
            await using var restore = outside.CreateCommand();
            restore.CommandText = "ALTER TABLE jobs_hidden RENAME TO jobs";
            await restore.ExecuteNonQueryAsync();
        }
        Assert.That(h.Events.OfType<EngineFaulted>().First().Reason, Does.Contain("jobs"));

        h.Write("A", "docs/after.txt", "after the recovery");
        await SyncHarness.EventuallyAsync(() => h.Exists("B", "docs/after.txt"), "a file synced after the scheduler restarted");
        Assert.That((await h.Engine.GetProgressAsync()).SchedulerFault, Is.Null, "recovered");
        Assert.That(h.Engine.GetServiceStatuses().Select(s => s.State), Is.All.EqualTo(ServiceState.Running));
    }
}
