namespace Onitu.Core.Tests.Engine;

/// <summary>A file that changes while it is read is never recorded as synced, nor left torn on the target.</summary>
public class VerifiedReadTests
{
    private static long SavedOffset(SyncHarness h)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={h.Engine.DatabasePath};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT coalesce(max(offset), 0) FROM jobs";
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>Bytes in the local driver's temporary files (its staging directory at the folder's root).</summary>
    private static long TemporaryBytes(SyncHarness h) => Directory.Exists(h.PathOf("B", "docs/.onitu-staging"))
        ? Directory.GetFiles(h.PathOf("B", "docs/.onitu-staging")).Sum(f => new FileInfo(f).Length)
        : 0;

    [TestCase(4 * 1024 * 1024, Description = "chunked: four 1 MiB chunks")]
    [TestCase(1536 * 1024, Description = "whole file, streamed")]
    public async Task A_source_rewritten_with_the_same_size_during_the_transfer_ends_whole_on_the_target(int size)
    {
        // Slowed down (2 MiB/s) so that the rewrite lands in the middle of the transfer.
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices(), o => o.BandwidthLimit = 2 * 1024 * 1024);
        var first = SyncHarness.RandomBytes(size, seed: 1);
        var second = SyncHarness.RandomBytes(size, seed: 2);
        h.Write("A", "docs/big.bin", first, DateTime.UtcNow.AddMinutes(-5));

        var pass = h.SyncAsync();
        // Under way: a chunked upload saved its first offset; a streamed one wrote part of its temporary file.
        await SyncHarness.EventuallyAsync(() => size > 2 * 1024 * 1024 ? SavedOffset(h) > 0 : TemporaryBytes(h) > 0, "the transfer to be under way");
        // Rewritten in place, as a database or an editor saving without a rename would: never empty, never shorter.
        using (var inPlace = new FileStream(h.PathOf("A", "docs/big.bin"), FileMode.Open, FileAccess.Write))
            inPlace.Write(second);
        File.SetLastWriteTimeUtc(h.PathOf("A", "docs/big.bin"), DateTime.UtcNow);
        var report = await pass;

        Assert.That(report.Succeeded, Is.True, string.Join("\n", report.Errors));
        var onB = File.ReadAllBytes(h.PathOf("B", "docs/big.bin"));
        Assert.That(onB.AsSpan().SequenceEqual(second), Is.True, "B holds the new content, whole (never a mix of both)");
        Assert.That(h.Events.OfType<FileSynced>().Count(e => e.Service == "B"), Is.EqualTo(1), "only the whole new version was recorded as synced");
    }
}
