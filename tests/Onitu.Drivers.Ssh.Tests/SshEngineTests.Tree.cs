using System.Security.Cryptography;

namespace Onitu.Drivers.Ssh.Tests;

/// <summary>
/// What the server's tree holds that the engine must cope with: a directory the login user may not list (skipped,
/// named, the rest syncing both ways, picked up once it opens), a name the engine refuses, and renames made on the
/// server (moved on the other side, not downloaded again).
/// </summary>
public partial class SshEngineTests
{
    private static async Task RunAsync(string file, params string[] arguments)
    {
        using var process = System.Diagnostics.Process.Start(file, arguments);
        await process.WaitForExitAsync();
        Assert.That(process.ExitCode, Is.Zero, $"{file} {string.Join(' ', arguments)}");
    }

    [Test]
    [CancelAfter(180_000)]
    public async Task A_directory_the_login_user_cannot_list_is_skipped_and_named_while_the_rest_syncs_both_ways(CancellationToken cancellationToken)
    {
        var sshd = SshdSetup.Sshd;
        var home = await sshd.UnprivilegedDirectoryAsync();
        var docs = Path.Combine(home, "docs");
        Directory.CreateDirectory(Path.Combine(docs, "sub"));
        File.WriteAllText(Path.Combine(docs, "open.txt"), "anyone may read this");
        File.WriteAllText(Path.Combine(docs, "sub", "deep.txt"), "and this");
        await SshdFixture.GiveToUnprivilegedUserAsync(home);
        // Root's, mode 0700: the login user sees the name and nothing inside. And a root-only file beside it.
        var priv = Directory.CreateDirectory(Path.Combine(docs, "priv")).FullName;
        File.WriteAllText(Path.Combine(priv, "secret.txt"), "root's eyes only");
        await RunAsync("chmod", "0700", priv);
        File.WriteAllText(Path.Combine(docs, "locked.txt"), "root's file");
        await RunAsync("chmod", "0600", Path.Combine(docs, "locked.txt"));

        await using var scene = new EngineScene();
        var engine = scene.Create(EngineScene.LocalService("A") + EngineScene.SshService("Remote", sshd, home, user: SshdFixture.UnprivilegedUser));
        await engine.StartAsync(cancellationToken);

        await scene.EventuallyAsync(() => scene.ReadOrNull("A", "docs/open.txt") == "anyone may read this" && scene.ReadOrNull("A", "docs/sub/deep.txt") == "and this",
            "the readable files to reach A", cancellationToken);
        await scene.EventuallyAsync(() => scene.Events<FileSkipped>().Any(e => e.Service == "Remote" && e.Path == "priv")
                && scene.Events<FileSkipped>().Any(e => e.Service == "Remote" && e.Path == "locked.txt"),
            "priv and locked.txt to be reported skipped", cancellationToken);
        scene.Write("A", "docs/up.txt", "from A");
        await scene.EventuallyAsync(() => File.Exists(Path.Combine(docs, "up.txt")), "up.txt to reach the server", cancellationToken);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(scene.Status("Remote").State, Is.EqualTo(ServiceState.Running), "the service is not failing for one unreadable directory");
            Assert.That(scene.Events<FileSkipped>().Single(e => e.Path == "priv").Reason, Does.Contain("permission denied"));
            Assert.That(scene.ReadOrNull("A", "docs/priv/secret.txt"), Is.Null);
            Assert.That(scene.ReadOrNull("A", "docs/locked.txt"), Is.Null);
            Assert.That(scene.Events<ServiceStateChanged>().Where(e => e.Service == "Remote").Select(e => e.State), Has.None.EqualTo(ServiceState.Failing));
        }

        // Opened up: found at a later poll.
        await RunAsync("chmod", "0755", priv);
        await RunAsync("chmod", "0644", Path.Combine(docs, "locked.txt"));
        await scene.EventuallyAsync(() => scene.ReadOrNull("A", "docs/priv/secret.txt") == "root's eyes only" && scene.ReadOrNull("A", "docs/locked.txt") == "root's file",
            "priv/secret.txt and locked.txt to reach A once they can be read", cancellationToken);
    }

    [Test]
    [CancelAfter(180_000)]
    public async Task A_name_the_engine_refuses_is_skipped_and_named_not_a_service_failure(CancellationToken cancellationToken)
    {
        var sshd = SshdSetup.Sshd;
        await using var scene = new EngineScene();
        var docs = Path.Combine(scene.RemoteRoot, "docs");
        Directory.CreateDirectory(docs);
        // A legal POSIX name that the engine reads as "../evil.txt".
        File.WriteAllText(Path.Combine(docs, "..\\evil.txt"), "outside?");
        File.WriteAllText(Path.Combine(docs, "fine.txt"), "fine");
        var engine = scene.Create(EngineScene.LocalService("A") + EngineScene.SshService("Remote", sshd, scene.RemoteRoot));

        using var pass = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        pass.CancelAfter(TimeSpan.FromSeconds(90));
        var report = await engine.SyncOnceAsync(pass.Token);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(report.Errors, Is.Empty, "no service failure");
            Assert.That(report.Skipped.Select(s => (s.Service, s.Path)), Does.Contain(("Remote", "..\\evil.txt")));
            Assert.That(scene.ReadOrNull("A", "docs/fine.txt"), Is.EqualTo("fine"));
            Assert.That(File.Exists(Path.Combine(scene.Root, "A", "evil.txt")), Is.False, "nothing written outside the folder");
        }
    }

    [Test]
    [CancelAfter(240_000)]
    public async Task Renames_on_the_server_are_moves_on_the_other_side_with_no_bytes_transferred(CancellationToken cancellationToken)
    {
        var sshd = SshdSetup.Sshd;
        await using var scene = new EngineScene();
        var docs = Path.Combine(scene.RemoteRoot, "docs");
        Directory.CreateDirectory(Path.Combine(docs, "album"));
        var big = RandomNumberGenerator.GetBytes(8 * MiB);
        File.WriteAllBytes(Path.Combine(docs, "big.bin"), big);
        for (var i = 0; i < 60; i++)
            File.WriteAllText(Path.Combine(docs, "album", $"track{i:00}.txt"), $"track {i}");
        var engine = scene.Create(EngineScene.LocalService("A") + EngineScene.SshService("Remote", sshd, scene.RemoteRoot));
        await engine.StartAsync(cancellationToken);
        await scene.EventuallyAsync(() => File.Exists(scene.PathOf("A", "docs/big.bin")) && new FileInfo(scene.PathOf("A", "docs/big.bin")).Length == big.Length
                && Enumerable.Range(0, 60).All(i => scene.ReadOrNull("A", $"docs/album/track{i:00}.txt") == $"track {i}"),
            "the files to reach A", cancellationToken);
        await scene.EventuallyAsync(() => engine.GetProgress() is { PendingJobs: 0, ActiveTransfers: 0 }, "the first sync to settle", cancellationToken);
        var bytesBefore = engine.GetProgress().BytesTransferred;
        var syncedBefore = scene.Events<FileSynced>().Count;

        // Renamed on the server, as another program would: a file, and a directory of 60 files.
        File.Move(Path.Combine(docs, "big.bin"), Path.Combine(docs, "renamed.bin"));
        Directory.Move(Path.Combine(docs, "album"), Path.Combine(docs, "record"));

        await scene.EventuallyAsync(() => File.Exists(scene.PathOf("A", "docs/renamed.bin")) && !File.Exists(scene.PathOf("A", "docs/big.bin"))
                && Enumerable.Range(0, 60).All(i => scene.ReadOrNull("A", $"docs/record/track{i:00}.txt") == $"track {i}")
                && !Directory.Exists(scene.PathOf("A", "docs/album")),
            "the renames to reach A", cancellationToken);
        await scene.EventuallyAsync(() => engine.GetProgress() is { PendingJobs: 0, ActiveTransfers: 0 }, "the renames to settle", cancellationToken);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(engine.GetProgress().BytesTransferred, Is.EqualTo(bytesBefore), "not one byte transferred for renames");
            Assert.That(scene.Events<FileSynced>(), Has.Count.EqualTo(syncedBefore), "no file copied again");
            Assert.That(scene.Events<FileMoved>().Count(e => e.Service == "A"), Is.EqualTo(61), "61 moves on A: the file and the directory's 60");
            Assert.That(File.ReadAllBytes(scene.PathOf("A", "docs/renamed.bin")), Is.EqualTo(big));
        }
    }
}
