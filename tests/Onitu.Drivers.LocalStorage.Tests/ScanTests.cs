namespace Onitu.Drivers.LocalStorage.Tests;

public class ScanTests : DriverTestBase
{
    [TestCase(1)]
    [TestCase(10)]
    [TestCase(100)]
    public async Task Scan_reports_every_new_file_once_with_its_revision(int count)
    {
        var expected = new Dictionary<string, string>();
        var sizes = new Dictionary<string, long>();
        for (var i = 0; i < count; i++)
        {
            var path = $"dir{i % 7}/sub{i % 3}/file{i}.txt";
            var full = Write(Path.Combine(DocsDir, path), new string('x', i));
            expected[path] = DiskRevision(full);
            sizes[path] = i;
        }
        Directory.CreateDirectory(PicsDir);

        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);

        var calls = Plug.Calls();
        Assert.Multiple(() =>
        {
            Assert.That(calls.Select(c => c.Kind), Is.All.EqualTo(CallKind.Update));
            Assert.That(calls.ToDictionary(c => c.File.Path, c => c.File.Revision), Is.EquivalentTo(expected));
            Assert.That(calls.Select(c => c.File.Folder), Is.All.EqualTo("docs"));
            Assert.That(calls.ToDictionary(c => c.File.Path, c => c.File.Size), Is.EquivalentTo(sizes));
            Assert.That(calls.Select(c => c.File.ModifiedAt), Has.None.Null);
            // One listing per folder, never one query per file.
            Assert.That(Plug.GetMetadataCalls, Is.Zero);
            Assert.That(Plug.ListFilesCalls, Is.EqualTo(2));
        });
    }

    [Test]
    public async Task Rescan_reports_only_changed_files_and_files_deleted_while_stopped()
    {
        var kept = Write(Path.Combine(DocsDir, "kept.txt"), "kept");
        var changed = Write(Path.Combine(DocsDir, "a/changed.txt"), "before");
        var deleted = Write(Path.Combine(PicsDir, "b/deleted.jpg"), "gone soon");
        await using (var first = CreateDriver())
            await first.ScanAsync(Token);
        Assert.That(Plug.CallCount, Is.EqualTo(3));

        File.WriteAllText(changed, "after, and longer");
        File.Delete(deleted);
        var mark = Plug.CallCount;
        await using var second = CreateDriver();
        await second.ScanAsync(Token);

        var calls = Plug.Calls(mark);
        Assert.That(calls, Has.Count.EqualTo(2));
        Assert.Multiple(() =>
        {
            Assert.That(calls[0], Has.Property("Kind").EqualTo(CallKind.Update));
            Assert.That(calls[0].File.ToString(), Is.EqualTo("docs:a/changed.txt"));
            Assert.That(calls[0].File.Revision, Is.EqualTo(DiskRevision(changed)));
            Assert.That(calls[1], Has.Property("Kind").EqualTo(CallKind.Delete));
            Assert.That(calls[1].File.ToString(), Is.EqualTo("pics:b/deleted.jpg"));
            Assert.That(Plug.KnownRevision("docs", "kept.txt"), Is.EqualTo(DiskRevision(kept)));
        });
    }

    [Test]
    public async Task Scan_names_files_that_look_like_temporary_files_of_earlier_versions_instead_of_ignoring_them()
    {
        var chunked = $"sub/.onitu-{Guid.NewGuid():N}.part";
        var whole = $".onitu-{Guid.NewGuid():N}.whole.part";
        Write(Path.Combine(DocsDir, chunked), "partial");
        Write(Path.Combine(DocsDir, whole), "partial");
        Write(Path.Combine(DocsDir, ".onitu-notes.part"), "a user's file");
        Write(Path.Combine(DocsDir, ".hidden"), "a user's hidden file");

        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);

        Assert.Multiple(() =>
        {
            Assert.That(Plug.Calls().Where(c => c.Kind == CallKind.Update).Select(c => c.File.Path), Is.EquivalentTo(new[] { ".onitu-notes.part", ".hidden" }));
            // Young, and not this service's: perhaps another engine's upload in flight, perhaps a user's file; never silent.
            Assert.That(Plug.Calls().Where(c => c.Kind == CallKind.Skip).Select(c => c.File.Path), Is.EquivalentTo(new[] { chunked, whole }));
            Assert.That(File.Exists(Path.Combine(DocsDir, chunked)), Is.True, "a young file is not removed");
        });
    }

    [Test]
    public async Task Scan_refuses_a_vanished_folder_directory_whose_files_are_known_and_reports_no_deletion()
    {
        Write(Path.Combine(DocsDir, "a.txt"), "a");
        Write(Path.Combine(DocsDir, "b/c.txt"), "c");
        await using (var first = CreateDriver())
            await first.ScanAsync(Token);

        Directory.Delete(DocsDir, recursive: true); // an unmounted disk looks like this
        var mark = Plug.CallCount;
        await using var second = CreateDriver();

        var error = Assert.ThrowsAsync<FolderMissingException>(() => second.ScanAsync(Token));
        Assert.Multiple(() =>
        {
            Assert.That(error!.IsTransient, Is.True);
            Assert.That(error.Message, Does.Contain("docs").And.Contain("missing"));
            Assert.That(Plug.Calls(mark), Is.Empty);
            Assert.That(Directory.Exists(DocsDir), Is.False, "the driver must not recreate the root of known files");
        });
    }

    [Test]
    public async Task Scan_creates_a_missing_folder_directory_when_no_file_is_known_there()
    {
        Directory.Delete(DocsDir);
        Directory.Delete(PicsDir);
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);

        Assert.Multiple(() =>
        {
            Assert.That(Directory.Exists(DocsDir), Is.True);
            Assert.That(Directory.Exists(PicsDir), Is.True);
            Assert.That(Plug.Calls(), Is.Empty);
        });
    }

    [Test]
    public async Task Scan_resolves_root_against_the_base_directory_and_folders_against_root()
    {
        Plug = new RecordingPlug(Root, [new FolderMapping("docs", "my docs")], new Dictionary<string, object?> { ["root"] = "data" });
        Write(Path.Combine(Root, "data", "my docs", "x.txt"), "x");

        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);

        Assert.That(Plug.Calls().Select(c => c.File.ToString()), Is.EqualTo(new[] { "docs:x.txt" }));
    }

    [Test]
    public async Task Scan_does_not_follow_links()
    {
        var outside = Write(Path.Combine(Root, "outside", "secret.txt"), "outside the folder");
        Directory.CreateDirectory(DocsDir);
        Directory.CreateSymbolicLink(Path.Combine(DocsDir, "linked-dir"), Path.GetDirectoryName(outside)!);
        File.CreateSymbolicLink(Path.Combine(DocsDir, "linked-file.txt"), outside);
        Write(Path.Combine(DocsDir, "real.txt"), "real");

        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);

        Assert.Multiple(() =>
        {
            Assert.That(Plug.Calls().Where(c => c.Kind == CallKind.Update).Select(c => c.File.Path), Is.EqualTo(new[] { "real.txt" }));
            Assert.That(Plug.Calls().Where(c => c.Kind == CallKind.Skip).Select(c => c.File.Path), Is.EquivalentTo(new[] { "linked-dir", "linked-file.txt" }),
                "links are named as skipped, not passed over in silence");
            Assert.That(Plug.Calls().Where(c => c.Kind == CallKind.Skip).Select(c => c.File.Extra["skip-reason"]), Has.All.Contain("symbolic link"));
        });
    }
}
