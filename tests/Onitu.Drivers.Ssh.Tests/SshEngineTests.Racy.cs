namespace Onitu.Drivers.Ssh.Tests;

/// <summary>
/// SFTP v3 times are whole seconds: a same-size rewrite on the server within the second its revision was recorded in
/// keeps the revision. The engine checks such racily clean files by content at the next sync.
/// </summary>
public partial class SshEngineTests
{
    // A whole second, as SFTP gives it.
    private static readonly DateTime RacySecond = new(2020, 1, 1, 12, 0, 0, DateTimeKind.Utc);

    /// <summary>A clock that runs from a chosen moment, so that a sync sees a file within its timestamp's second.</summary>
    private sealed class ShiftedClock(DateTimeOffset now) : TimeProvider
    {
        private readonly TimeSpan _offset = now - System.GetUtcNow();

        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + _offset;
    }

    private static async Task<SyncReport> SyncOnceAsync(EngineScene scene, string services, TimeProvider? clock, CancellationToken cancellationToken)
    {
        var engine = scene.Create(services, clock: clock);
        var report = await engine.SyncOnceAsync(cancellationToken);
        Assert.That(report.Succeeded, Is.True, string.Join("\n", report.Errors));
        await engine.DisposeAsync();
        return report;
    }

    /// <summary>
    /// Syncs the server's <c>docs/notes.txt</c> ("first", written at <see cref="RacySecond"/>) to A, the sync seeing
    /// it half a second after its write: a rewrite in the same second keeps its revision.
    /// </summary>
    private static async Task<(string Services, string Remote)> SyncARacyRemoteFileAsync(EngineScene scene, CancellationToken cancellationToken)
    {
        var services = EngineScene.LocalService("A") + EngineScene.SshService("Remote", SshdSetup.Sshd, scene.RemoteRoot);
        var remote = Path.Combine(scene.RemoteRoot, "docs", "notes.txt");
        Directory.CreateDirectory(Path.GetDirectoryName(remote)!);
        File.WriteAllText(remote, "first");
        File.SetLastWriteTimeUtc(remote, RacySecond);
        await SyncOnceAsync(scene, services, new ShiftedClock(RacySecond.AddMilliseconds(500)), cancellationToken);
        return (services, remote);
    }

    [Test]
    [CancelAfter(180_000)]
    public async Task A_same_size_rewrite_on_the_server_within_the_second_of_the_last_sync_is_found_and_sent(CancellationToken cancellationToken)
    {
        await using var scene = new EngineScene();
        var (services, remote) = await SyncARacyRemoteFileAsync(scene, cancellationToken);
        Assert.That(scene.ReadOrNull("A", "docs/notes.txt"), Is.EqualTo("first"));

        using (var inPlace = new FileStream(remote, FileMode.Open, FileAccess.Write))
            inPlace.Write("other"u8);
        File.SetLastWriteTimeUtc(remote, RacySecond.AddMilliseconds(700));
        await SyncOnceAsync(scene, services, clock: null, cancellationToken);

        Assert.That(scene.ReadOrNull("A", "docs/notes.txt"), Is.EqualTo("other"), "the rewrite reached A");
        Assert.That(File.ReadAllText(remote), Is.EqualTo("other"));
        Assert.That(scene.Events<ConflictDetected>(), Is.Empty);
    }

    [Test]
    [CancelAfter(180_000)]
    public async Task An_unchanged_racy_file_on_the_server_is_read_again_but_not_sent_again(CancellationToken cancellationToken)
    {
        await using var scene = new EngineScene();
        var (services, remote) = await SyncARacyRemoteFileAsync(scene, cancellationToken);
        var local = new FileInfo(scene.PathOf("A", "docs/notes.txt"));
        var writtenLocally = local.LastWriteTimeUtc;

        var report = await SyncOnceAsync(scene, services, clock: null, cancellationToken);

        local.Refresh();
        Assert.That(local.LastWriteTimeUtc, Is.EqualTo(writtenLocally), "A's copy untouched");
        Assert.That(File.GetLastWriteTimeUtc(remote), Is.EqualTo(RacySecond), "the server's copy untouched");
        Assert.That(scene.Events<FileSynced>(), Has.Count.EqualTo(1), "sent once, by the first sync only");
        // "has the content of version N: recorded, nothing to transfer" (event 2009), of the server's copy.
        Assert.That(scene.Logs.Entries, Has.Some.Matches<LogEntry>(e => e.EventId == 2009 && e.Value("Service") == "Remote"
            && e.Value("Path") == "notes.txt"), "the second sync compared the contents");
        Assert.That(report.Errors, Is.Empty);
    }
}
