namespace Onitu.Drivers.LocalStorage.Tests;

public class WatchTests : DriverTestBase
{
    [Test]
    public async Task Watcher_reports_a_created_file()
    {
        await StartWatchingAsync();
        var mark = Plug.CallCount;

        var full = Write(Path.Combine(DocsDir, "new/created.txt"), "hello");

        var call = await Plug.WaitForAsync(c => c.Kind == CallKind.Update && c.File.Path == "new/created.txt" && c.File.Size == 5, mark);
        Assert.That(call.File.Revision, Is.EqualTo(DiskRevision(full)));
    }

    [Test]
    public async Task Watcher_reports_a_modified_file_with_its_new_revision()
    {
        var full = Write(Path.Combine(DocsDir, "doc.txt"), "v1");
        await StartWatchingAsync();
        var before = Plug.KnownRevision("docs", "doc.txt");
        var mark = Plug.CallCount;

        File.AppendAllText(full, " and v2");

        var call = await Plug.WaitForAsync(c => c.Kind == CallKind.Update && c.File.Path == "doc.txt" && c.File.Size == 9, mark);
        Assert.That(call.File.Revision, Is.Not.EqualTo(before).And.EqualTo(DiskRevision(full)));
    }

    [Test]
    public async Task Watcher_reports_a_deleted_file()
    {
        var full = Write(Path.Combine(DocsDir, "doomed.txt"), "bye");
        await StartWatchingAsync();
        var mark = Plug.CallCount;

        File.Delete(full);

        await Plug.WaitForAsync(c => c.Kind == CallKind.Delete && c.File.Path == "doomed.txt", mark);
        Assert.That(Plug.KnownRevision("docs", "doomed.txt"), Is.Null);
    }

    [Test]
    public async Task Watcher_reports_a_renamed_file_as_a_move()
    {
        var full = Write(Path.Combine(DocsDir, "old name.txt"), "content");
        Directory.CreateDirectory(Path.Combine(DocsDir, "elsewhere"));
        await StartWatchingAsync();
        var revision = Plug.KnownRevision("docs", "old name.txt");
        var mark = Plug.CallCount;

        File.Move(full, Path.Combine(DocsDir, "elsewhere/new name.txt"));

        var call = await Plug.WaitForAsync(c => c.Kind == CallKind.Move, mark);
        await SettleAsync(DocsDir);
        Assert.Multiple(() =>
        {
            Assert.That(call.File.Path, Is.EqualTo("old name.txt"));
            Assert.That(call.File.Revision, Is.EqualTo(revision));
            Assert.That(call.Destination!.Path, Is.EqualTo("elsewhere/new name.txt"));
            Assert.That(call.Destination.Revision, Is.EqualTo(revision), "a rename keeps size and time");
            Assert.That(Plug.Calls(mark).Where(c => c.Kind == CallKind.Delete), Is.Empty);
        });
    }

    [Test]
    public async Task Watcher_reports_a_file_edited_then_renamed_at_once_as_a_move_not_a_deletion()
    {
        // A long debounce puts the edit and the rename in one batch, as they are on a busy machine.
        Plug = CreatePlug(new Dictionary<string, object?> { ["debounce-ms"] = 200L });
        var full = Write(Path.Combine(DocsDir, "draft.txt"), "draft");
        await StartWatchingAsync();
        var mark = Plug.CallCount;

        File.AppendAllText(full, ", edited");
        File.Move(full, Path.Combine(DocsDir, "final.txt"));

        var call = await Plug.WaitForAsync(c => c.Kind == CallKind.Move, mark);
        await SettleAsync(DocsDir);
        Assert.Multiple(() =>
        {
            Assert.That(call.File.Path, Is.EqualTo("draft.txt"));
            Assert.That(call.Destination!.Path, Is.EqualTo("final.txt"));
            Assert.That(call.Destination.Revision, Is.EqualTo(DiskRevision(Path.Combine(DocsDir, "final.txt"))));
            Assert.That(Plug.Calls(mark).Where(c => c.Kind == CallKind.Delete), Is.Empty);
        });
    }

    [Test]
    public async Task After_a_flurry_of_changes_the_known_files_match_the_disk()
    {
        for (var i = 0; i < 10; i++)
            Write(Path.Combine(DocsDir, $"set/{i}.txt"), $"file {i}");
        await StartWatchingAsync();

        File.Move(Path.Combine(DocsDir, "set/0.txt"), Path.Combine(DocsDir, "set/0b.txt"));
        File.Move(Path.Combine(DocsDir, "set/0b.txt"), Path.Combine(DocsDir, "set/0c.txt"));
        File.Delete(Path.Combine(DocsDir, "set/1.txt"));
        Write(Path.Combine(DocsDir, "set/1.txt"), "recreated");
        File.AppendAllText(Path.Combine(DocsDir, "set/2.txt"), " edited");
        Directory.Move(Path.Combine(DocsDir, "set"), Path.Combine(DocsDir, "moved set"));
        Write(Path.Combine(DocsDir, "moved set/new/11.txt"), "new");
        File.Delete(Path.Combine(DocsDir, "moved set/3.txt"));
        Directory.CreateDirectory(Path.Combine(DocsDir, "empty/dirs"));

        await SettleAsync(DocsDir);
        var onDisk = Directory.GetFiles(DocsDir, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(DocsDir, f).Replace('\\', '/'), DiskRevision);
        var known = new Dictionary<string, string?>();
        await foreach (var file in Plug.ListFilesAsync("docs"))
            known[file.Path] = file.Revision;
        Assert.That(known, Is.EquivalentTo(onDisk.ToDictionary(p => p.Key, p => (string?)p.Value)));
    }

    [Test]
    public async Task Watcher_reports_a_renamed_directory_as_a_move_of_each_file()
    {
        string[] files = ["a.txt", "b.txt", "deep/er/c.txt"];
        foreach (var file in files)
            Write(Path.Combine(DocsDir, "album", file), file);
        await StartWatchingAsync();
        var mark = Plug.CallCount;

        Directory.Move(Path.Combine(DocsDir, "album"), Path.Combine(DocsDir, "renamed album"));

        await Plug.WaitUntilAsync(calls => calls.Skip(mark).Count(c => c.Kind == CallKind.Move) == files.Length);
        await SettleAsync(DocsDir);
        var moves = Plug.Calls(mark).Where(c => c.Kind != CallKind.Update || !c.File.Path.StartsWith("zz-settle", StringComparison.Ordinal)).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(moves.Select(c => c.Kind), Is.All.EqualTo(CallKind.Move));
            Assert.That(moves.Select(c => (c.File.Path, c.Destination!.Path)),
                Is.EquivalentTo(files.Select(f => ("album/" + f, "renamed album/" + f))));
        });

        // The watcher follows the renamed directory: a later change inside it is reported under the new name.
        var changeMark = Plug.CallCount;
        File.AppendAllText(Path.Combine(DocsDir, "renamed album/deep/er/c.txt"), "more");
        await Plug.WaitForAsync(c => c.Kind == CallKind.Update && c.File.Path == "renamed album/deep/er/c.txt", changeMark);
    }

    [Test]
    public async Task Watcher_reports_a_deleted_directory_as_a_deletion_of_each_file()
    {
        string[] files = ["x/1.txt", "x/2.txt", "x/y/3.txt", "x/y/z/4.txt"];
        foreach (var file in files)
            Write(Path.Combine(DocsDir, file), file);
        Write(Path.Combine(DocsDir, "survivor.txt"), "stays");
        await StartWatchingAsync();
        var mark = Plug.CallCount;

        Directory.Delete(Path.Combine(DocsDir, "x"), recursive: true);

        await Plug.WaitUntilAsync(calls => files.All(f => calls.Skip(mark).Any(c => c.Kind == CallKind.Delete && c.File.Path == f)));
        await SettleAsync(DocsDir);
        Assert.Multiple(() =>
        {
            Assert.That(Plug.Calls(mark).Count(c => c.Kind == CallKind.Delete), Is.EqualTo(files.Length), "each file deleted once");
            Assert.That(Plug.KnownRevision("docs", "survivor.txt"), Is.Not.Null);
        });
    }

    [Test]
    public async Task Watcher_reports_every_file_of_a_directory_moved_in_from_outside_the_root()
    {
        string[] files = ["one.txt", "two.txt", "nested/three.txt", "nested/deeper/four.txt"];
        var outside = Path.Combine(Root, "downloads", "batch");
        foreach (var file in files)
            Write(Path.Combine(outside, file), file);
        await StartWatchingAsync();
        var mark = Plug.CallCount;

        Directory.Move(outside, Path.Combine(DocsDir, "inbox"));

        await Plug.WaitUntilAsync(calls => files.All(f => calls.Skip(mark).Any(c => c.Kind == CallKind.Update && c.File.Path == "inbox/" + f)));
    }

    [Test]
    public async Task Watcher_reports_a_file_moved_in_from_outside_as_created_and_moved_out_as_deleted()
    {
        var leaving = Write(Path.Combine(DocsDir, "leaving.txt"), "bye");
        var arriving = Write(Path.Combine(Root, "elsewhere", "arriving.txt"), "hi");
        await StartWatchingAsync();
        var mark = Plug.CallCount;

        File.Move(arriving, Path.Combine(DocsDir, "arrived.txt"));
        File.Move(leaving, Path.Combine(Root, "elsewhere", "left.txt"));

        await Plug.WaitForAsync(c => c.Kind == CallKind.Update && c.File.Path == "arrived.txt", mark);
        await Plug.WaitForAsync(c => c.Kind == CallKind.Delete && c.File.Path == "leaving.txt", mark);
    }

    [Test]
    public async Task Watcher_reports_a_file_moved_between_folders()
    {
        var full = Write(Path.Combine(DocsDir, "photo.jpg"), "jpeg");
        await StartWatchingAsync();
        var mark = Plug.CallCount;

        File.Move(full, Path.Combine(PicsDir, "photo.jpg"));

        await Plug.WaitForAsync(c => c.Kind == CallKind.Delete && c.File.ToString() == "docs:photo.jpg", mark);
        await Plug.WaitForAsync(c => c.Kind == CallKind.Update && c.File.ToString() == "pics:photo.jpg", mark);
    }

    [Test]
    public async Task Watcher_ignores_its_own_temporary_files_beside_their_targets()
    {
        await Plug.State.SetAsync("writer-id", "0a1b2c3d", Token);
        await StartWatchingAsync();
        var mark = Plug.CallCount;

        var temp = Write(Path.Combine(DocsDir, $".onitu-{Guid.NewGuid():N}.0a1b2c3d.part"), "partial");
        File.AppendAllText(temp, "more");
        File.Delete(temp);

        await SettleAsync(DocsDir);
        Assert.That(Plug.Calls(mark).Where(c => c.File.Path.StartsWith(".onitu-", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public async Task Watcher_ignores_the_staging_directory()
    {
        await StartWatchingAsync();
        var mark = Plug.CallCount;

        var staged = Write(Path.Combine(DocsDir, TempFiles.StagingDirectoryName, $"{Guid.NewGuid():N}.0a1b2c3d.part"), "partial");
        File.AppendAllText(staged, "more");
        File.Delete(staged);

        await SettleAsync(DocsDir);
        Assert.That(Plug.Calls(mark).Where(c => c.File.Path.StartsWith(".onitu-", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    [Platform(Exclude = "Win", Reason = "Creating symbolic links needs a privilege on Windows.")]
    public async Task Watcher_names_a_new_symbolic_link_as_skipped()
    {
        await StartWatchingAsync();
        var mark = Plug.CallCount;
        var target = Write(Path.Combine(Root, "elsewhere.txt"), "outside");

        File.CreateSymbolicLink(Path.Combine(DocsDir, "link.txt"), target);

        var skip = await Plug.WaitForAsync(c => c.Kind == CallKind.Skip && c.File.Path == "link.txt", mark);
        Assert.That(skip.File.Extra["skip-reason"], Does.Contain("symbolic link"));
    }

    [Test]
    [Platform(Exclude = "Win", Reason = "A backslash is a separator on Windows.")]
    public async Task Watcher_names_a_look_alike_of_a_temporary_file_and_a_name_Onitu_cannot_carry_as_skipped()
    {
        await StartWatchingAsync();
        var mark = Plug.CallCount;
        var lookAlike = $".onitu-{Guid.NewGuid():N}.part";

        Write(Path.Combine(DocsDir, lookAlike), "a user's file");
        Write(Path.Combine(DocsDir, "back\\slash.txt"), "a name Onitu cannot carry");

        await Plug.WaitForAsync(c => c.Kind == CallKind.Skip && c.File.Path == lookAlike, mark);
        var skip = await Plug.WaitForAsync(c => c.Kind == CallKind.Skip && (string?)c.File.Extra["skip-path"] == "back\\slash.txt", mark);
        Assert.That(skip.File.Extra["skip-reason"], Does.Contain("backslash"));
    }

    [Test]
    public async Task Watcher_coalesces_a_burst_of_writes_to_one_file()
    {
        await StartWatchingAsync();
        var mark = Plug.CallCount;

        var full = Path.Combine(DocsDir, "burst.log");
        await using (var stream = new FileStream(full, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 1))
        {
            for (var i = 0; i < 200; i++)
                await stream.WriteAsync(new byte[] { (byte)'x' }, Token);
        }

        await Plug.WaitForAsync(c => c.Kind == CallKind.Update && c.File.Path == "burst.log" && c.File.Size == 200, mark);
        await SettleAsync(DocsDir);
        // Not one report per write: the debounce coalesces them (a slow machine may split the burst a few times).
        Assert.That(Plug.Calls(mark).Count(c => c.File.Path == "burst.log"), Is.LessThan(20));
    }

    [Test]
    public async Task Watching_fails_instead_of_reporting_deletions_when_the_folder_directory_vanishes()
    {
        // A long debounce: the whole removal lands in one batch, looked at when the root is already gone.
        Plug = CreatePlug(new Dictionary<string, object?> { ["debounce-ms"] = 300L });
        foreach (var name in new[] { "a.txt", "b.txt", "c/d.txt" })
            Write(Path.Combine(DocsDir, name), name);
        await StartWatchingAsync();
        var mark = Plug.CallCount;

        Directory.Delete(DocsDir, recursive: true);

        var error = Assert.ThrowsAsync<FolderMissingException>(async () => await LastWatch.WaitAsync(RecordingPlug.Timeout));
        Assert.Multiple(() =>
        {
            Assert.That(error!.IsTransient, Is.True);
            Assert.That(Plug.Calls(mark).Where(c => c.Kind == CallKind.Delete), Is.Empty);
        });
    }

    [Test]
    public async Task Watch_returns_normally_when_cancelled()
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        using var stop = new CancellationTokenSource();
        var watching = driver.WatchAsync(stop.Token);

        await stop.CancelAsync();

        Assert.That(async () => await watching.WaitAsync(RecordingPlug.Timeout), Throws.Nothing);
    }

    [Test]
    public async Task Watching_again_after_a_pause_catches_up_with_what_changed_meanwhile()
    {
        Write(Path.Combine(DocsDir, "before.txt"), "x");
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        using (var stop = new CancellationTokenSource())
        {
            var watching = driver.WatchAsync(stop.Token);
            await stop.CancelAsync();
            await watching.WaitAsync(RecordingPlug.Timeout);
        }
        var mark = Plug.CallCount;

        Write(Path.Combine(DocsDir, "during the pause.txt"), "y");
        File.Delete(Path.Combine(DocsDir, "before.txt"));
        using var again = new CancellationTokenSource();
        var resumed = driver.WatchAsync(again.Token);

        await Plug.WaitForAsync(c => c.Kind == CallKind.Update && c.File.Path == "during the pause.txt", mark);
        await Plug.WaitForAsync(c => c.Kind == CallKind.Delete && c.File.Path == "before.txt", mark);
        await again.CancelAsync();
        await resumed.WaitAsync(RecordingPlug.Timeout);
    }
}
