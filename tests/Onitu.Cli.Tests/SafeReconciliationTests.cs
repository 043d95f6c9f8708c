using System.Security.Cryptography;

namespace Onitu.Cli.Tests;

/// <summary>
/// The situations users meet off the happy path, run with the real <c>onitu</c> process on real folders: an
/// unmounted disk, a mass deletion, a lost or corrupt state database, two processes on one database.
/// </summary>
public class SafeReconciliationTests : ScratchTest
{
    /// <summary>
    /// A on <c>A/docs</c>, B with the folder mapped directly on its root (a mount point), or as given: its root and
    /// the folder's path in it.
    /// </summary>
    private string WriteSetup(string bRoot = "mnt", string bFolder = ".")
    {
        var path = Path.Combine(Dir, "setup.yml");
        File.WriteAllText(path, $$"""
            name: safety
            folders:
              docs: {}
            services:
              A:
                driver: local_storage
                options: { root: A }
                folders: { docs: docs }
              B:
                driver: local_storage
                options: { root: {{bRoot}} }
                folders: { docs: {{bFolder}} }
            """);
        return path;
    }

    private void WriteFiles(string directory, int count, int seed = 0)
    {
        Directory.CreateDirectory(Path.Combine(Dir, directory));
        for (var i = 0; i < count; i++)
        {
            var bytes = new byte[100 + i];
            new Random(seed + i).NextBytes(bytes);
            File.WriteAllBytes(Path.Combine(Dir, directory, $"f{i:D3}.bin"), bytes);
        }
    }

    /// <summary>The user files of a directory (the engine's marker excluded) with their SHA-256.</summary>
    private SortedDictionary<string, string> Tree(string directory)
    {
        var root = Path.Combine(Dir, directory);
        var tree = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (!Directory.Exists(root))
            return tree;
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            var name = Path.GetRelativePath(root, file).Replace('\\', '/');
            if (name.Split('/').Any(segment => segment.StartsWith(".onitu-", StringComparison.Ordinal))) // markers, temporary and staged files
                continue;
            tree[name] = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file)));
        }
        return tree;
    }

    private async Task<OnituProcess> SyncAsync(string setup, params string[] extra) =>
        await OnituProcess.RunAsync(Dir, ["sync", setup, "--quiet", .. extra]);

    [Test]
    public async Task An_empty_mount_point_deletes_nothing_and_fails_its_service()
    {
        var setup = WriteSetup();
        WriteFiles("A/docs", 50);
        using (var first = await SyncAsync(setup))
            Assert.That(first.ExitCode, Is.Zero, first.Output);
        Assert.That(File.Exists(Path.Combine(Dir, "mnt", ".onitu-folder")), "the engine marks the folder's root");
        var before = Tree("A/docs");

        // The disk did not mount: its mount point is an empty directory.
        Directory.Delete(Path.Combine(Dir, "mnt"), recursive: true);
        Directory.CreateDirectory(Path.Combine(Dir, "mnt"));
        using var run = await SyncAsync(setup);

        Assert.That(run.ExitCode, Is.EqualTo(2), run.Output);
        Assert.That(run.StandardError, Does.Contain("folder marker missing: is the disk mounted?"));
        Assert.That(run.StandardError, Does.Not.Contain("   at "), "no stack trace");
        Assert.That(Tree("A/docs"), Is.EqualTo(before), "nothing deleted on A");
        Assert.That(Tree("mnt"), Is.Empty, "nothing copied onto the empty mount point either");
    }

    [Test]
    public async Task Without_its_marker_an_emptied_folder_is_still_stopped_by_the_deletion_guard()
    {
        var setup = WriteSetup();
        WriteFiles("A/docs", 50);
        using (var first = await SyncAsync(setup))
            Assert.That(first.ExitCode, Is.Zero, first.Output);
        var before = Tree("A/docs");

        // An empty mount point that someone "repaired" by recreating the marker.
        Directory.Delete(Path.Combine(Dir, "mnt"), recursive: true);
        Directory.CreateDirectory(Path.Combine(Dir, "mnt"));
        File.WriteAllText(Path.Combine(Dir, "mnt", ".onitu-folder"), "");
        using var refused = await SyncAsync(setup);

        Assert.That(refused.ExitCode, Is.EqualTo(2), refused.Output);
        Assert.That(refused.StandardError, Does.Contain("found 50 of its 50 files deleted"));
        Assert.That(refused.StandardError, Does.Contain("--force"));
        Assert.That(Tree("A/docs"), Is.EqualTo(before), "nothing deleted on A");
    }

    [Test]
    public async Task A_mass_deletion_waits_for_confirmation_and_a_small_one_goes_through()
    {
        var setup = WriteSetup();
        WriteFiles("A/docs", 20);
        using (var first = await SyncAsync(setup))
            Assert.That(first.ExitCode, Is.Zero, first.Output);

        // 3 of 20: ordinary work.
        foreach (var i in new[] { 0, 1, 2 })
            File.Delete(Path.Combine(Dir, $"A/docs/f{i:D3}.bin"));
        using (var small = await SyncAsync(setup))
            Assert.That(small.ExitCode, Is.Zero, small.Output);
        Assert.That(Tree("mnt"), Has.Count.EqualTo(17));

        // Everything else at once: refused, nothing deleted on B, exit 2.
        foreach (var file in Directory.GetFiles(Path.Combine(Dir, "A/docs"), "f*.bin"))
            File.Delete(file);
        using (var refused = await SyncAsync(setup))
        {
            Assert.That(refused.ExitCode, Is.EqualTo(2), refused.Output);
            Assert.That(refused.StandardError, Does.Contain("found 17 of its 17 files deleted, more than max-delete 50%"));
            Assert.That(refused.StandardOutput, Does.Contain(", 0 left, 1 error."), "the summary does not read as all done");
        }
        Assert.That(Tree("mnt"), Has.Count.EqualTo(17), "B keeps its files");

        // Confirmed: the deletions go through.
        using (var confirmed = await SyncAsync(setup, "--force"))
            Assert.That(confirmed.ExitCode, Is.Zero, confirmed.Output);
        Assert.That(Tree("mnt"), Is.Empty);
    }

    [Test]
    public async Task Max_delete_in_the_setup_and_on_the_command_line_set_the_limit()
    {
        var setup = WriteSetup();
        File.WriteAllText(setup, File.ReadAllText(setup).Replace("docs: {}", "docs: { max-delete: 2 }", StringComparison.Ordinal));
        WriteFiles("A/docs", 5);
        using (var first = await SyncAsync(setup))
            Assert.That(first.ExitCode, Is.Zero, first.Output);

        foreach (var i in new[] { 0, 1, 2 })
            File.Delete(Path.Combine(Dir, $"A/docs/f{i:D3}.bin"));
        using (var refused = await SyncAsync(setup))
        {
            Assert.That(refused.ExitCode, Is.EqualTo(2), refused.Output);
            Assert.That(refused.StandardError, Does.Contain("found 3 of its 5 files deleted, more than max-delete 2"));
        }
        using (var allowed = await SyncAsync(setup, "--max-delete", "100%"))
            Assert.That(allowed.ExitCode, Is.Zero, allowed.Output);
        Assert.That(Tree("mnt").Keys, Is.EqualTo(new[] { "f003.bin", "f004.bin" }));
    }

    [Test]
    [Platform("Linux", Reason = "Bind mounts are Linux's.")]
    public async Task A_disk_unmounted_during_run_receives_nothing_and_the_edits_made_meanwhile_survive_the_next_sync()
    {
        // B's root is a link to a bind mount, as a disk mounted under /mnt would be.
        var disk = Directory.CreateDirectory(Path.Combine(Dir, "realdisk")).FullName;
        var mountPoint = Directory.CreateDirectory(Path.Combine(Dir, "mnt4")).FullName;
        File.CreateSymbolicLink(Path.Combine(Dir, "B"), mountPoint);
        var setup = WriteTwoRootSetup();
        WriteFiles("A/docs", 20);
        BindMount(disk, mountPoint);
        try
        {
            using (var first = await SyncAsync(setup))
                Assert.That(first.ExitCode, Is.Zero, first.Output);
            Assert.That(File.Exists(Path.Combine(disk, "docs", ".onitu-folder")), "the engine marks the folder's root on the disk");
            var before = Tree("A/docs");

            string runOutput;
            string[] onBareMountPoint;
            using (var run = OnituProcess.Start(Dir, "run", setup, "--verbose"))
            {
                await WaitForAsync(run, "both scans", () => run.Output.Contains("Service A: scan complete", StringComparison.Ordinal)
                    && run.Output.Contains("Service B: scan complete", StringComparison.Ordinal));
                Unmount(mountPoint);
                File.WriteAllText(Path.Combine(Dir, "A/docs/f001.bin"), "edited on A");
                File.WriteAllText(Path.Combine(Dir, "A/docs/new.txt"), "brand new on A");

                // Until B fails, or A's edits reach the bare mount point, or long enough for them to have (they are
                // picked up within the watcher's debounce and sent at once); then a while more for any write in flight.
                await WaitUntilAsync(() => run.StandardError.Contains("Service B is failing", StringComparison.Ordinal)
                    || Directory.EnumerateFileSystemEntries(mountPoint, "*", SearchOption.AllDirectories).Count() >= 2, seconds: 20);
                await Task.Delay(TimeSpan.FromSeconds(2 * OnituProcess.TimeUnit));
                onBareMountPoint = Directory.EnumerateFileSystemEntries(mountPoint, "*", SearchOption.AllDirectories)
                    .Select(entry => Path.GetRelativePath(mountPoint, entry)).ToArray();
                run.Terminate();
                await run.WaitAsync(TimeSpan.FromSeconds(30 * OnituProcess.TimeUnit));
                runOutput = run.StandardError;
            }
            var onA = Tree("A/docs");

            BindMount(disk, mountPoint);
            using var sync = await SyncAsync(setup);

            Assert.Multiple(() =>
            {
                Assert.That(runOutput, Does.Contain("Service B is failing").And.Contain("folder marker missing: is the disk mounted?"),
                    "B fails with the marker's reason while its disk is away");
                Assert.That(onBareMountPoint, Is.Empty, "nothing written onto the bare mount point, not even the folder's directory");
                Assert.That(onA.Count, Is.EqualTo(before.Count + 1), "A deleted nothing while B was away");
                Assert.That(sync.ExitCode, Is.Zero, sync.Output);
                Assert.That(File.ReadAllText(Path.Combine(Dir, "A/docs/f001.bin")), Is.EqualTo("edited on A"), "A's edit survives");
                Assert.That(File.ReadAllText(Path.Combine(Dir, "A/docs/new.txt")), Is.EqualTo("brand new on A"), "A's new file survives");
                Assert.That(Tree("B/docs"), Is.EqualTo(Tree("A/docs")), "B has them too, on the disk");
                Assert.That(Tree("A/docs").Keys.Where(k => k.Contains(".conflict-", StringComparison.Ordinal)), Is.Empty, "no conflict copy");
            });
        }
        finally
        {
            for (var i = 0; i < 3 && IsMountPoint(mountPoint); i++)
                Run("umount", mountPoint);
        }
    }

    // B's folder (its root, "mnt", as a mount point would be) put aside, or deleted, and an empty directory made in its place.
    [TestCase(true)]
    [TestCase(false)]
    public async Task A_folder_replaced_by_an_empty_one_during_run_fails_its_service_and_nothing_is_deleted_or_written(bool putAside)
    {
        var setup = WriteSetup();
        WriteFiles("A/docs", 20);
        using (var first = await SyncAsync(setup))
            Assert.That(first.ExitCode, Is.Zero, first.Output);
        var before = Tree("A/docs");
        var folder = Path.Combine(Dir, "mnt");

        using var run = OnituProcess.Start(Dir, "run", setup, "--verbose");
        try
        {
            await WaitForAsync(run, "both scans", () => run.Output.Contains("Service A: scan complete", StringComparison.Ordinal)
                && run.Output.Contains("Service B: scan complete", StringComparison.Ordinal));
            if (putAside)
                Directory.Move(folder, folder + ".aside");
            else
                Directory.Delete(folder, recursive: true);
            Directory.CreateDirectory(folder);

            // Seen live, before any write to B could find it out; then A's new file must not land in the new directory.
            await WaitUntilAsync(() => run.StandardError.Contains("Service B is failing", StringComparison.Ordinal), seconds: 20);
            var beforeAnyWrite = run.StandardError;
            File.WriteAllText(Path.Combine(Dir, "A/docs/new.txt"), "new on A");
            await Task.Delay(TimeSpan.FromSeconds(3 * OnituProcess.TimeUnit));

            Assert.Multiple(() =>
            {
                Assert.That(beforeAnyWrite, Does.Contain("Service B is failing").And.Contain("folder marker missing: is the disk mounted?"),
                    "B fails with the marker's reason as soon as its folder is replaced");
                Assert.That(Tree("A/docs"), Is.EqualTo(new SortedDictionary<string, string>(before, StringComparer.Ordinal) { ["new.txt"] = Hash("new on A") }),
                    "nothing deleted on A");
                if (putAside)
                    Assert.That(Tree("mnt.aside"), Is.EqualTo(before), "nothing deleted in B's folder");
                Assert.That(Directory.EnumerateFileSystemEntries(folder), Is.Empty, "nothing written into the directory put in its place");
            });
        }
        finally
        {
            run.Kill();
        }
    }

    [Test]
    public async Task A_folder_back_with_its_marker_during_run_resumes_and_receives_what_changed_meanwhile()
    {
        var setup = WriteSetup();
        WriteFiles("A/docs", 20);
        using (var first = await SyncAsync(setup))
            Assert.That(first.ExitCode, Is.Zero, first.Output);

        using var run = OnituProcess.Start(Dir, "run", setup, "--verbose");
        try
        {
            await WaitForAsync(run, "both scans", () => run.Output.Contains("Service A: scan complete", StringComparison.Ordinal)
                && run.Output.Contains("Service B: scan complete", StringComparison.Ordinal));
            Directory.Move(Path.Combine(Dir, "mnt"), Path.Combine(Dir, "mnt.aside"));
            Directory.CreateDirectory(Path.Combine(Dir, "mnt"));
            await WaitForAsync(run, "B failing for its folder", () => run.StandardError.Contains("folder marker missing: is the disk mounted?", StringComparison.Ordinal));
            File.WriteAllText(Path.Combine(Dir, "A/docs/while-away.txt"), "written while B's folder was away");
            File.Delete(Path.Combine(Dir, "A/docs/f000.bin"));

            // The folder comes back, marker and all: the service is scanned again and catches up, without a restart of onitu.
            Directory.Delete(Path.Combine(Dir, "mnt"));
            Directory.Move(Path.Combine(Dir, "mnt.aside"), Path.Combine(Dir, "mnt"));
            await WaitForAsync(run, "B to catch up", () => Tree("mnt").ContainsKey("while-away.txt") && !Tree("mnt").ContainsKey("f000.bin"));
            File.WriteAllText(Path.Combine(Dir, "A/docs/after.txt"), "written after B came back");
            await WaitForAsync(run, "B to watch again", () => Tree("mnt").ContainsKey("after.txt"));

            Assert.That(Tree("mnt"), Is.EqualTo(Tree("A/docs")), run.Output);
        }
        finally
        {
            run.Kill();
        }
    }

    /// <summary>A on <c>A/docs</c>, B on <c>B/docs</c> (B's root a link to a mount point).</summary>
    private string WriteTwoRootSetup() => WriteSetup(bRoot: "B", bFolder: "docs");

    private static string Hash(string content) => Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(content)));

    private static async Task WaitForAsync(OnituProcess run, string what, Func<bool> condition, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds * OnituProcess.TimeUnit);
        while (!condition())
        {
            Assert.That(run.HasExited, Is.False, $"onitu exited while waiting for {what}: {run.Output}");
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), $"no {what} within {seconds} s: {run.Output}");
            await Task.Delay(50);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, int seconds)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds * OnituProcess.TimeUnit);
        while (!condition() && DateTime.UtcNow < deadline)
            await Task.Delay(50);
    }

    private static void BindMount(string source, string mountPoint)
    {
        if (Environment.UserName != "root")
            Assert.Ignore("A bind mount needs root (CI runs as root).");
        var (code, error) = Run("mount", "--bind", source, mountPoint);
        if (code != 0)
            Assert.Ignore($"'mount --bind' is not permitted here: {error}");
    }

    private static void Unmount(string mountPoint)
    {
        var (code, error) = Run("umount", mountPoint);
        Assert.That(code, Is.Zero, $"umount {mountPoint}: {error}");
    }

    private static bool IsMountPoint(string directory) =>
        File.ReadLines("/proc/self/mountinfo").Any(line => line.Split(' ')[4] == directory);

    private static (int Code, string Error) Run(string program, params string[] arguments)
    {
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(program, arguments)
        {
            UseShellExecute = false,
            RedirectStandardError = true,
        })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, error);
    }

    [Test]
    public async Task A_lost_state_database_twice_over_pairs_the_trees_again_without_a_copy_or_a_conflict()
    {
        var setup = WriteSetup();
        WriteFiles("A/docs", 30);
        WriteFiles("mnt/sub", 10, seed: 100);
        using (var first = await SyncAsync(setup))
            Assert.That(first.ExitCode, Is.Zero, first.Output);
        var synced = Tree("A/docs");

        for (var round = 0; round < 2; round++)
        {
            File.Delete(Path.Combine(Dir, "setup.state.db"));
            using var again = await SyncAsync(setup);
            Assert.That(again.ExitCode, Is.Zero, again.Output);
            Assert.That(again.StandardOutput, Does.Contain("0 changes propagated"), $"round {round}");
            Assert.That(Tree("A/docs"), Is.EqualTo(synced), $"round {round}: no conflict copy on A");
            Assert.That(Tree("mnt"), Is.EqualTo(synced), $"round {round}: no conflict copy on B");
        }
    }

    [Test]
    public async Task A_second_process_on_the_same_state_database_is_refused_naming_the_holder()
    {
        var setup = WriteSetup();
        WriteFiles("A/docs", 3);
        using var running = OnituProcess.Start(Dir, "run", setup, "--quiet");
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(60 * OnituProcess.TimeUnit);
            while (Tree("mnt").Count < 3 && DateTime.UtcNow < deadline && !running.HasExited)
                await Task.Delay(100);
            Assert.That(Tree("mnt"), Has.Count.EqualTo(3), running.Output);

            using var second = await SyncAsync(setup);

            Assert.That(second.ExitCode, Is.EqualTo(1), second.Output);
            Assert.That(second.StandardError, Does.Contain("setup.state.db' is in use by another Onitu engine"));
            Assert.That(second.StandardError, Does.Contain($"PID {running.ProcessId}"));
        }
        finally
        {
            running.Kill();
        }

        // The holder died without cleaning up (SIGKILL): its lock is taken over.
        using var after = await SyncAsync(setup);
        Assert.That(after.ExitCode, Is.Zero, after.Output);
    }

    [Test]
    public async Task A_corrupt_state_database_is_a_clear_error_that_changes_nothing()
    {
        var setup = WriteSetup();
        WriteFiles("A/docs", 3);
        var database = Path.Combine(Dir, "setup.state.db");
        File.WriteAllText(database, "this is not a database, it was overwritten by mistake " + new string('x', 4096));

        using var run = await SyncAsync(setup);

        Assert.That(run.ExitCode, Is.EqualTo(1), run.Output);
        Assert.That(run.StandardError, Does.Contain($"The state database '{database}' cannot be used"));
        Assert.That(run.StandardError, Does.Contain("Move it aside"));
        Assert.That(run.StandardError, Does.Not.Contain("   at "), "no stack trace");
        Assert.That(Tree("mnt"), Is.Empty, "nothing synced with a database it cannot trust");
    }

    /// <summary>
    /// A database whose header and schema are sound but one of whose tables has a damaged page (a disk fault, a copy
    /// cut short): refused at the start like a database that is not one at all, not met half-way through the pass.
    /// </summary>
    [TestCase("files")]
    [TestCase("replicas")]
    [TestCase("jobs")]
    public async Task A_damaged_page_in_the_state_database_is_a_clear_error_that_changes_nothing(string table)
    {
        var setup = WriteSetup();
        WriteFiles("A/docs", 200);
        using (var first = await SyncAsync(setup))
            Assert.That(first.ExitCode, Is.Zero, first.Output);
        File.WriteAllText(Path.Combine(Dir, "A/docs/new.txt"), "would be sent");
        File.Delete(Path.Combine(Dir, "A/docs/f000.bin"));
        var (a, b) = (Tree("A/docs"), Tree("mnt"));
        var database = Path.Combine(Dir, "setup.state.db");
        DamageRootPage(database, table);

        using var run = await SyncAsync(setup);

        Assert.That(run.ExitCode, Is.EqualTo(1), run.Output);
        Assert.That(run.StandardError, Does.Contain($"The state database '{database}' cannot be used"));
        Assert.That(run.StandardError, Does.Contain("Move it aside"));
        Assert.That(run.StandardError, Does.Not.Contain("   at "), "no stack trace");
        Assert.That(Tree("A/docs"), Is.EqualTo(a), "nothing changed on A");
        Assert.That(Tree("mnt"), Is.EqualTo(b), "nothing sent or deleted on B");
    }

    /// <summary>Overwrites the first page of a table's b-tree with bytes no page can hold.</summary>
    private static void DamageRootPage(string database, string table)
    {
        long rootPage, pageSize;
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={database};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT rootpage FROM sqlite_schema WHERE type = 'table' AND name = $name";
            command.Parameters.AddWithValue("$name", table);
            rootPage = (long)command.ExecuteScalar()!;
            command.CommandText = "PRAGMA page_size";
            pageSize = (long)command.ExecuteScalar()!;
        }
        using var file = new FileStream(database, FileMode.Open, FileAccess.Write);
        file.Position = (rootPage - 1) * pageSize;
        file.Write(Enumerable.Repeat((byte)0xFF, (int)pageSize).ToArray());
    }

    [Test]
    public async Task A_dry_run_lists_the_pass_and_changes_nothing_on_any_store_nor_in_the_database()
    {
        var setup = WriteSetup();
        WriteFiles("A/docs", 20);
        using (var first = await SyncAsync(setup))
            Assert.That(first.ExitCode, Is.Zero, first.Output);

        File.WriteAllText(Path.Combine(Dir, "A/docs/new.txt"), "new on A");
        File.Delete(Path.Combine(Dir, "A/docs/f000.bin"));
        File.Move(Path.Combine(Dir, "A/docs/f001.bin"), Path.Combine(Dir, "A/docs/renamed.bin"));
        File.WriteAllText(Path.Combine(Dir, "A/docs/f002.bin"), "edited on A");
        File.WriteAllText(Path.Combine(Dir, "mnt/f002.bin"), "edited on B");
        // A file replaced by a directory on A: B's file would be renamed aside, a conflict the plan lists too.
        File.Delete(Path.Combine(Dir, "A/docs/f003.bin"));
        Directory.CreateDirectory(Path.Combine(Dir, "A/docs/f003.bin"));
        File.WriteAllText(Path.Combine(Dir, "A/docs/f003.bin/inner.txt"), "in a directory");
        var database = Path.Combine(Dir, "setup.state.db");
        var before = (A: Tree("A/docs"), B: Tree("mnt"), Db: Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(database))));

        using var dry = await SyncAsync(setup, "--dry-run");

        Assert.That(dry.ExitCode, Is.Zero, dry.Output);
        Assert.That(dry.StandardOutput, Does.Contain("copy    docs:new.txt to B"));
        Assert.That(dry.StandardOutput, Does.Contain("delete  docs:f000.bin on B"));
        Assert.That(dry.StandardOutput, Does.Contain("docs:renamed.bin"));
        Assert.That(dry.StandardOutput, Does.Contain("conflict docs:f002.bin"));
        Assert.That(dry.StandardOutput, Does.Contain("conflict docs:f003.bin: the content from A kept as f003.conflict-A-"));
        Assert.That(dry.StandardOutput, Does.Contain("nothing was changed"));
        Assert.That(Tree("A/docs"), Is.EqualTo(before.A));
        Assert.That(Tree("mnt"), Is.EqualTo(before.B));
        Assert.That(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(database))), Is.EqualTo(before.Db), "the state database is untouched");

        // And a guard's refusal shows in the plan, with exit code 2.
        foreach (var file in Directory.GetFiles(Path.Combine(Dir, "A/docs"), "f*.bin"))
            File.Delete(file);
        using var refused = await SyncAsync(setup, "--dry-run");
        Assert.That(refused.ExitCode, Is.EqualTo(2), refused.Output);
        Assert.That(refused.StandardOutput, Does.Contain("refused service 'A' is failing"));
        Assert.That(Tree("mnt"), Is.EqualTo(before.B));
    }

    [Test]
    public async Task A_kill_during_an_initial_sync_leaves_no_conflict_copy_behind()
    {
        var setup = WriteSetup();
        WriteFiles("A/docs", 2000);
        var database = Path.Combine(Dir, "setup.state.db");

        using (var killed = OnituProcess.Start(Dir, "sync", setup, "--quiet"))
        {
            // Killed in the middle: some files renamed into place on B, some recorded, some neither.
            var deadline = DateTime.UtcNow.AddSeconds(60 * OnituProcess.TimeUnit);
            while (!killed.HasExited && DateTime.UtcNow < deadline
                   && (!Directory.Exists(Path.Combine(Dir, "mnt")) || Directory.GetFiles(Path.Combine(Dir, "mnt")).Length < 300))
            {
                await Task.Delay(5);
            }
            killed.Kill();
        }
        var landed = Tree("mnt").Count;

        using var again = await SyncAsync(setup);

        Assert.That(again.ExitCode, Is.Zero, again.Output);
        Assert.That(Tree("mnt"), Is.EqualTo(Tree("A/docs")), $"converged ({landed} files had landed before the kill)");
        Assert.That(Tree("A/docs").Keys.Where(k => k.Contains(".conflict-", StringComparison.Ordinal)), Is.Empty, "no conflict copy");
        Assert.That(File.Exists(database));
    }
}
