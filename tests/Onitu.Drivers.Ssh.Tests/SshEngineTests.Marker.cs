namespace Onitu.Drivers.Ssh.Tests;

/// <summary>
/// The folder marker while the engine runs: a server folder swapped for an empty directory (what a remote unmount looks
/// like) fails the service with the marker's message, deletes nothing anywhere, and the service recovers once the
/// folder is back.
/// </summary>
public partial class SshEngineTests
{
    private static bool MarkerMissing(EngineScene scene) =>
        scene.Status("Remote") is { State: ServiceState.Failing, Reason: { } reason } && reason.Contains("folder marker missing", StringComparison.Ordinal);

    private static readonly string[] SwappedFiles = ["top.txt", "sub/deep.txt", "sub/deeper/deepest.txt", "other/x.txt"];

    /// <summary>Writes <see cref="SwappedFiles"/> into the server's <c>docs</c> folder; returns that folder.</summary>
    private static string WriteServerFiles(EngineScene scene)
    {
        var docs = Path.Combine(scene.RemoteRoot, "docs");
        foreach (var file in SwappedFiles)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(docs, file))!);
            File.WriteAllText(Path.Combine(docs, file), "server's " + file);
        }
        return docs;
    }

    [Test]
    [CancelAfter(300_000)]
    public async Task A_server_folder_swapped_for_an_empty_directory_while_running_fails_the_service_deletes_nothing_and_recovers(CancellationToken cancellationToken)
    {
        var sshd = SshdSetup.Sshd;
        await using var scene = new EngineScene();
        var docs = WriteServerFiles(scene);
        var services = EngineScene.LocalService("A") + EngineScene.SshService("Remote", sshd, scene.RemoteRoot);

        // A first pass syncs the folder and leaves its marker on both services; `onitu run` starts from there.
        var first = scene.Create(services);
        var report = await first.SyncOnceAsync(cancellationToken);
        Assert.That(report.Succeeded, Is.True, string.Join("\n", report.Errors));
        Assert.That(File.Exists(Path.Combine(docs, ".onitu-folder")), Is.True, "the first pass left the folder marker on the server");
        await first.DisposeAsync();

        var engine = scene.Create(services);
        await engine.StartAsync(cancellationToken);
        await scene.EventuallyAsync(() => scene.Status("Remote").State == ServiceState.Running && scene.Status("A").State == ServiceState.Running,
            "both services to be running", cancellationToken);
        File.WriteAllText(Path.Combine(docs, "live.txt"), "written on the server while running");
        await scene.EventuallyAsync(() => scene.ReadOrNull("A", "docs/live.txt") == "written on the server while running",
            "a file written on the server while running to reach A (the polls work)", cancellationToken);

        // The remote unmount: the folder moved away, an empty directory in its place.
        var away = docs + ".away";
        var before = scene.Events<ServiceStateChanged>().Count;
        Directory.Move(docs, away);
        Directory.CreateDirectory(docs);

        // Whichever comes first: the failure, or a deletion (what a poll that took the empty directory for the folder does).
        await scene.EventuallyAsync(() => MarkerMissing(scene) || scene.Events<FileDeleted>().Count > 0,
            "Remote to be failing because its folder marker is missing", cancellationToken);
        // Long enough for many polls and retries (200 ms apart, backoff up to 1 s): had one reported the files gone,
        // A would have lost them by now.
        await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken);
        var changes = scene.Events<ServiceStateChanged>().Skip(before).Where(e => e.Service == "Remote").ToList();
        using (Assert.EnterMultipleScope())
        {
            foreach (var file in SwappedFiles.Append("live.txt"))
                Assert.That(scene.ReadOrNull("A", "docs/" + file), Is.Not.Null, $"{file} stays on A");
            Assert.That(scene.Events<FileDeleted>(), Is.Empty, "nothing is deleted anywhere");
            Assert.That(changes.FirstOrDefault(e => e.State == ServiceState.Failing)?.Reason,
                Does.StartWith("Service 'Remote', folder 'docs' (docs): folder marker missing: is the disk mounted?"),
                "the poll fails the service with the message of a start that finds no marker");
            Assert.That(changes.Select(e => e.State), Has.None.EqualTo(ServiceState.Running), "failing (and retried) while the folder is away");
            Assert.That(Directory.GetFileSystemEntries(docs), Is.Empty, "nothing was written into the empty directory");
            Assert.That(scene.Status("A").State, Is.EqualTo(ServiceState.Running));
        }

        // The folder is back: the service recovers by itself (the engine's retries find the marker again) and syncs.
        Directory.Delete(docs);
        Directory.Move(away, docs);
        await scene.EventuallyAsync(() => scene.Status("Remote").State == ServiceState.Running, "Remote to be running again", cancellationToken);
        File.WriteAllText(Path.Combine(docs, "after.txt"), "written on the server once the folder is back");
        await scene.EventuallyAsync(() => scene.ReadOrNull("A", "docs/after.txt") == "written on the server once the folder is back",
            "a file written on the server after the folder is back to reach A", cancellationToken);
        await engine.WaitUntilIdleAsync(cancellationToken);
        using (Assert.EnterMultipleScope())
        {
            foreach (var file in SwappedFiles)
            {
                Assert.That(scene.ReadOrNull("A", "docs/" + file), Is.EqualTo("server's " + file), $"{file} on A");
                Assert.That(ReadOrNull(Path.Combine(docs, file)), Is.EqualTo("server's " + file), $"{file} on the server");
            }
            Assert.That(scene.Events<FileDeleted>(), Is.Empty, "nothing was deleted anywhere");
        }
    }

    [Test]
    [CancelAfter(300_000)]
    public async Task The_marker_made_by_a_first_run_is_checked_by_its_polls_too(CancellationToken cancellationToken)
    {
        // A first `onitu run` on a new setup: the marker is made after the first scan, and the polls of that same run
        // must hold the folder to it (the startup check only protects the next start).
        var sshd = SshdSetup.Sshd;
        await using var scene = new EngineScene();
        var docs = WriteServerFiles(scene);
        var engine = scene.Create(EngineScene.LocalService("A") + EngineScene.SshService("Remote", sshd, scene.RemoteRoot));
        await engine.StartAsync(cancellationToken);
        await scene.EventuallyAsync(() => SwappedFiles.All(f => scene.ReadOrNull("A", "docs/" + f) is not null) && File.Exists(Path.Combine(docs, ".onitu-folder")),
            "the files to reach A and the marker to be made on the server", cancellationToken);
        // Some polls (200 ms apart) see the new marker.
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);

        Directory.Move(docs, docs + ".away");
        Directory.CreateDirectory(docs);
        await scene.EventuallyAsync(() => MarkerMissing(scene) || scene.Events<FileDeleted>().Count > 0,
            "Remote to be failing because its folder marker is missing", cancellationToken);
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(scene.Events<FileDeleted>(), Is.Empty, "nothing is deleted anywhere");
            foreach (var file in SwappedFiles)
                Assert.That(scene.ReadOrNull("A", "docs/" + file), Is.EqualTo("server's " + file), $"{file} stays on A");
        }
    }
}
