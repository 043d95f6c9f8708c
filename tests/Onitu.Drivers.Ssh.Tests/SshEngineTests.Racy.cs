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

    // ---- the engine's own uploads -----------------------------------------------------------------------------

    /// <summary>Writes <paramref name="count"/> files of the same size into A, each with a time an hour ago.</summary>
    private static List<(string Path, DateTime Time)> WriteOldFiles(EngineScene scene, int count)
    {
        var hourAgo = DateTime.UtcNow.AddHours(-1);
        var files = new List<(string, DateTime)>();
        for (var i = 0; i < count; i++)
        {
            var path = $"docs/d{i % 3}/f{i}.txt";
            scene.Write("A", path, $"content {i:D4}");
            var time = hourAgo.AddSeconds(i).AddMilliseconds(250);
            File.SetLastWriteTimeUtc(scene.PathOf("A", path), time);
            files.Add((path, time));
        }
        return files;
    }

    private static int ContentComparisons(EngineScene scene, string service) =>
        scene.Logs.Entries.Count(e => e.EventId == 2009 && e.Value("Service") == service);

    [Test]
    [CancelAfter(180_000)]
    public async Task Files_uploaded_from_an_older_source_keep_its_time_and_the_next_sync_reads_none_of_them_again(CancellationToken cancellationToken)
    {
        // Before: every uploaded file kept the server's clock at its write, within the 2 s window, so the next sync
        // read each of them back over SFTP and compared its content (the slow second run after an upload).
        await using var scene = new EngineScene();
        var files = WriteOldFiles(scene, 40);
        var services = EngineScene.LocalService("A") + EngineScene.SshService("Remote", SshdSetup.Sshd, scene.RemoteRoot);
        await SyncOnceAsync(scene, services, clock: null, cancellationToken);
        var comparedBefore = ContentComparisons(scene, "Remote");

        var report = await SyncOnceAsync(scene, services, clock: null, cancellationToken);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(ContentComparisons(scene, "Remote") - comparedBefore, Is.Zero, "no uploaded file was read back and compared");
            Assert.That(scene.Events<FileSynced>(), Has.Count.EqualTo(files.Count), "sent once, by the first sync only");
            Assert.That(report.Errors, Is.Empty);
            foreach (var (path, time) in files)
            {
                var remote = Path.Combine(scene.RemoteRoot, path);
                Assert.That(File.ReadAllText(remote), Is.EqualTo(scene.ReadOrNull("A", path)));
                Assert.That(File.GetLastWriteTimeUtc(remote), Is.EqualTo(time.AddTicks(-(time.Ticks % TimeSpan.TicksPerSecond))),
                    $"{path} on the server has its source's time, to the second (as rsync -a keeps it)");
            }
        }
    }

    [Test]
    [CancelAfter(180_000)]
    public async Task A_same_size_rewrite_on_the_server_right_after_an_upload_with_the_source_time_is_a_new_revision_and_sent(CancellationToken cancellationToken)
    {
        // The racy case without the content check: the upload gave the file a time in the server's past, so a rewrite
        // in place in the same second as the upload (same size) stamps the server's clock and changes the revision.
        await using var scene = new EngineScene();
        var files = WriteOldFiles(scene, 3);
        var services = EngineScene.LocalService("A") + EngineScene.SshService("Remote", SshdSetup.Sshd, scene.RemoteRoot);
        await SyncOnceAsync(scene, services, clock: null, cancellationToken);
        var remote = Path.Combine(scene.RemoteRoot, files[1].Path);
        var before = File.ReadAllText(remote);
        var rewrite = "REWRITTEN" + before[9..];
        Assert.That(rewrite, Has.Length.EqualTo(before.Length));

        using (var inPlace = new FileStream(remote, FileMode.Open, FileAccess.Write))
            inPlace.Write(System.Text.Encoding.UTF8.GetBytes(rewrite));
        await SyncOnceAsync(scene, services, clock: null, cancellationToken);

        Assert.That(scene.ReadOrNull("A", files[1].Path), Is.EqualTo(rewrite), "the rewrite reached A");
        Assert.That(scene.Events<ConflictDetected>(), Is.Empty);
    }

    [Test]
    [CancelAfter(180_000)]
    public async Task An_upload_whose_source_time_is_not_in_the_past_stays_racy_and_a_same_size_rewrite_in_its_second_is_found_by_content(CancellationToken cancellationToken)
    {
        // A source time not in the past (here a source clock ahead; a file saved just now alike) is not given to the
        // file: the upload keeps the server's time, the engine marks it racily clean, and a same-size rewrite that
        // keeps the second is found by its content at the next sync. The engine's clock is set behind the server's, so
        // that the first sync judges the write recent however slow the machine.
        await using var scene = new EngineScene();
        scene.Write("A", "docs/fresh.txt", "first");
        File.SetLastWriteTimeUtc(scene.PathOf("A", "docs/fresh.txt"), DateTime.UtcNow.AddHours(1));
        var services = EngineScene.LocalService("A") + EngineScene.SshService("Remote", SshdSetup.Sshd, scene.RemoteRoot);
        await SyncOnceAsync(scene, services, new ShiftedClock(DateTimeOffset.UtcNow.AddSeconds(-10)), cancellationToken);
        var remote = Path.Combine(scene.RemoteRoot, "docs", "fresh.txt");
        var written = File.GetLastWriteTimeUtc(remote);
        Assert.That(written, Is.GreaterThan(DateTime.UtcNow.AddSeconds(-30)), "the server's own clock, not an old time");

        using (var inPlace = new FileStream(remote, FileMode.Open, FileAccess.Write))
            inPlace.Write("other"u8);
        File.SetLastWriteTimeUtc(remote, written);
        await SyncOnceAsync(scene, services, clock: null, cancellationToken);

        Assert.That(scene.ReadOrNull("A", "docs/fresh.txt"), Is.EqualTo("other"), "the rewrite reached A");
        Assert.That(scene.Events<ConflictDetected>(), Is.Empty);
    }
}
