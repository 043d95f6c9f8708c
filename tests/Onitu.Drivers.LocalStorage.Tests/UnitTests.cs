using Onitu.Drivers.Toolkit;

namespace Onitu.Drivers.LocalStorage.Tests;

public class TempFilesTests
{
    [TestCase(".onitu-0123456789abcdef0123456789abcdef.part", true)]
    [TestCase(".onitu-0123456789abcdef0123456789abcdef.whole.part", true)]
    [TestCase(".onitu-0123456789abcdef0123456789abcdef.0a1b2c3d.part", true)]
    [TestCase(".onitu-0123456789abcdef0123456789abcdef.0a1b2c3d.whole.part", true)]
    [TestCase(".onitu-0123456789abcdef0123456789abcdef.notes.part", false)]
    [TestCase(".onitu-0123456789abcdef0123456789abcdef..part", false)]
    [TestCase(".onitu-0123456789ABCDEF0123456789abcdef.part", false)]
    [TestCase(".onitu-notes.part", false)]
    [TestCase(".onitu-0123456789abcdef0123456789abcdef.part.txt", false)]
    [TestCase("onitu-0123456789abcdef0123456789abcdef.part", false)]
    [TestCase("report.part", false)]
    public void Only_the_drivers_own_names_are_temporary(string name, bool expected) =>
        Assert.That(TempFiles.IsTempName(name), Is.EqualTo(expected));

    [Test]
    public void Temporary_files_sit_beside_their_target_and_carry_the_fid_and_the_writer()
    {
        var fid = Guid.NewGuid();
        var target = Path.Combine(Path.GetTempPath(), "dir", "file.txt");

        Assert.Multiple(() =>
        {
            Assert.That(Path.GetDirectoryName(TempFiles.ForChunkedUpload(target, fid, "0a1b2c3d")), Is.EqualTo(Path.GetDirectoryName(target)));
            Assert.That(TempFiles.ForChunkedUpload(target, fid, "0a1b2c3d"), Is.EqualTo(Path.Combine(Path.GetTempPath(), "dir", $".onitu-{fid:N}.0a1b2c3d.part")));
            Assert.That(TempFiles.ForChunkedUpload(target, fid, "0a1b2c3d"), Is.Not.EqualTo(TempFiles.ForChunkedUpload(target, fid, "99999999")),
                "two writers never share a partial file");
            Assert.That(TempFiles.ForChunkedUpload(target, fid, "0a1b2c3d"), Is.Not.EqualTo(TempFiles.ForWholeUpload(target, fid, "0a1b2c3d")));
            Assert.That(TempFiles.IsTempPath(TempFiles.ForChunkedUpload(target, fid, TempNames.NewId())), Is.True);
            Assert.That(TempFiles.IsTempPath(TempFiles.ForWholeUpload(target, fid, TempNames.NewId())), Is.True);
        });
    }
}

public class StagedNameTests
{
    [Test]
    public void Staged_names_carry_the_fid_the_writer_and_for_whole_uploads_the_instance()
    {
        var fid = Guid.NewGuid();
        var chunked = Path.GetFileName(TempFiles.StagedChunked("/s", fid, "0a1b2c3d"));
        var whole = Path.GetFileName(TempFiles.StagedWhole("/s", fid, "0a1b2c3d", "99999999"));

        Assert.Multiple(() =>
        {
            Assert.That(TempFiles.Parse(chunked), Is.EqualTo(new TempName(false, "0a1b2c3d", null)));
            Assert.That(TempFiles.Parse(whole), Is.EqualTo(new TempName(true, "0a1b2c3d", "99999999")));
            Assert.That(TempFiles.Parse("notes.txt"), Is.Null);
            Assert.That(TempFiles.IsTempName(chunked), Is.False, "a staged name is no hidden name beside a target");
        });
    }
}

public class StorageFolderTests
{
    private static readonly string Directory = Path.Combine(Path.GetTempPath(), "folder");

    [TestCase("a.txt", "a.txt")]
    [TestCase("sub/dir/a.txt", "sub/dir/a.txt")]
    [TestCase("été/😀.txt", "été/😀.txt")]
    public void Full_paths_inside_turn_back_into_onitu_paths(string relative, string expected)
    {
        var folder = new StorageFolder("f", Directory);

        Assert.That(folder.TryGetRelativePath(folder.GetFullPath(relative), out var path), Is.True);
        Assert.That(path, Is.EqualTo(expected));
    }

    [Test]
    public void Paths_outside_or_at_the_folder_itself_have_no_onitu_path()
    {
        var folder = new StorageFolder("f", Directory);

        Assert.Multiple(() =>
        {
            Assert.That(folder.TryGetRelativePath(Directory, out _), Is.False);
            Assert.That(folder.TryGetRelativePath(Directory + "-sibling/a.txt", out _), Is.False);
            Assert.That(folder.TryGetRelativePath(Path.GetTempPath(), out _), Is.False);
        });
    }

    [Test]
    public void A_unix_name_with_a_backslash_has_no_onitu_path()
    {
        Assume.That(Path.DirectorySeparatorChar, Is.EqualTo('/'));
        var folder = new StorageFolder("f", Directory);

        Assert.That(folder.TryGetRelativePath(Path.Combine(Directory, "back\\slash.txt"), out _), Is.False);
    }
}

public class ChangeBatchTests
{
    private static readonly StorageFolder Folder = new("docs", Path.Combine(Path.GetTempPath(), "docs"));
    private static readonly string Temp = $".onitu-{Guid.NewGuid():N}.part";

    private static string Full(string path) => Path.Combine(Folder.Directory, path);

    [Test]
    public void Events_on_one_path_coalesce_and_remember_a_creation()
    {
        var batch = new ChangeBatch();
        batch.Add(new WatchEvent(Folder, ChangeKind.Created, Full("a.txt")));
        batch.Add(new WatchEvent(Folder, ChangeKind.Changed, Full("a.txt")));
        batch.Add(new WatchEvent(Folder, ChangeKind.Changed, Full("b.txt")));
        batch.Add(new WatchEvent(Folder, ChangeKind.Changed, Full("a.txt")));

        Assert.That(batch.Paths.Select(p => (p.Key.Path, p.Value)), Is.EqualTo(new[] { ("a.txt", true), ("b.txt", false) }));
    }

    [Test]
    public void Temporary_sides_of_renames_are_dropped()
    {
        var batch = new ChangeBatch();
        batch.Add(new WatchEvent(Folder, ChangeKind.Changed, Full(Temp)));
        batch.Add(new WatchEvent(Folder, ChangeKind.Renamed, Full("sub/target.txt"), Full("sub/" + Temp)));
        batch.Add(new WatchEvent(Folder, ChangeKind.Renamed, Full(Temp), Full("away.txt")));
        batch.Add(new WatchEvent(Folder, ChangeKind.Renamed, Full("new.txt"), Full("old.txt")));

        Assert.Multiple(() =>
        {
            Assert.That(batch.Paths.Select(p => (p.Key.Path, p.Value)), Is.EqualTo(new[] { ("sub/target.txt", true), ("away.txt", false) }));
            Assert.That(batch.Renames.Select(r => (r.OldPath, r.NewPath)), Is.EqualTo(new[] { ("old.txt", "new.txt") }));
        });
    }

    [Test]
    public void Renames_across_the_folder_boundary_are_a_creation_or_a_deletion()
    {
        var outside = Path.Combine(Path.GetTempPath(), "elsewhere", "x.txt");
        var batch = new ChangeBatch();
        batch.Add(new WatchEvent(Folder, ChangeKind.Renamed, Full("in.txt"), outside));
        batch.Add(new WatchEvent(Folder, ChangeKind.Renamed, outside, Full("out.txt")));

        Assert.That(batch.Paths.Select(p => (p.Key.Path, p.Value)), Is.EqualTo(new[] { ("in.txt", true), ("out.txt", false) }));
    }

    [Test]
    public void Lost_notifications_ask_for_a_rescan_and_the_folder_itself_is_no_file()
    {
        var batch = new ChangeBatch();
        batch.Add(new WatchEvent(Folder, ChangeKind.Overflow, Folder.Directory));
        batch.Add(new WatchEvent(Folder, ChangeKind.Deleted, Folder.Directory));

        Assert.Multiple(() =>
        {
            Assert.That(batch.Rescans, Is.EquivalentTo(new[] { Folder }));
            Assert.That(batch.Paths, Is.Empty);
        });
    }
}

public class DiskWalkerTests
{
    [Test]
    public void A_sorted_walk_yields_every_entry_in_the_code_point_order_of_its_path()
    {
        var root = Path.Combine(Path.GetTempPath(), "onitu-walk-" + Guid.NewGuid().ToString("N")[..8]);
        // "a.txt" sorts before the directory "a" ('.' < '/'), "a0" after it ('/' < '0'); U+E000 sorts after an
        // astral character although its UTF-16 unit is smaller than the surrogates'.
        string[] paths = ["a.txt", "a/b", "a/c/d", "a0", "b", "x\uE000", "x\U0001F600", "z/.hidden", ".onitu-staging-not/x"];
        try
        {
            foreach (var path in paths)
            {
                var full = Path.Combine(root, path);
                Directory.CreateDirectory(Path.GetDirectoryName(full)!);
                File.WriteAllText(full, path);
            }
            Directory.CreateDirectory(Path.Combine(root, TempFiles.StagingDirectoryName));
            File.WriteAllText(Path.Combine(root, TempFiles.StagingDirectoryName, "staged"), "not walked");
            var folder = new StorageFolder("docs", root);

            var walked = DiskWalker.EnumerateSorted(folder, root).Select(e => folder.RawRelativePath(e.FullPath)).ToList();

            var byUtf8 = Comparer<string>.Create((a, b) => System.Text.Encoding.UTF8.GetBytes(a).AsSpan().SequenceCompareTo(System.Text.Encoding.UTF8.GetBytes(b)));
            Assert.That(walked, Is.EqualTo(paths.Order(byUtf8).ToList()));
            Assert.That(walked.Zip(walked.Skip(1)).All(p => DiskWalker.CompareByCodePoint(p.First, p.Second) < 0), Is.True);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
