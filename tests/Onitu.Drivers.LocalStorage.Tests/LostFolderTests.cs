using System.Diagnostics;

namespace Onitu.Drivers.LocalStorage.Tests;

/// <summary>
/// A folder whose directory goes away after the scan found it (a disk unmounted, the directory moved aside, another put
/// in its place, the engine's marker deleted) is lost: no write makes its directory again or lands in the one put in
/// its place, nothing found missing in it is taken as deleted, and a watch fails instead of reporting deletions. The
/// next scan that finds it again (the engine runs it once the marker is back) resumes.
/// </summary>
public class LostFolderTests : DriverTestBase
{
    private const string Marker = FolderMarker.FileName;

    private async Task<(LocalStorageDriver Driver, string Known)> ScannedWithMarkerAsync()
    {
        Write(Path.Combine(DocsDir, Marker), "");
        var known = Write(Path.Combine(DocsDir, "sub/known.txt"), "known");
        var driver = CreateDriver();
        await driver.ScanAsync(Token);
        return (driver, known);
    }

    [Test]
    public async Task No_write_makes_the_directory_of_a_folder_that_vanished_after_its_scan()
    {
        var (driver, known) = await ScannedWithMarkerAsync();
        var revision = DiskRevision(known);
        Directory.Move(DocsDir, DocsDir + ".unmounted"); // the disk's directory is elsewhere now: its mount point is bare
        var source = Write(Path.Combine(PicsDir, "source.bin"), "source");

        Assert.Multiple(() =>
        {
            Assert.That(async () => await driver.UploadFileAsync(Meta("docs", "new.txt"), new MemoryStream("x"u8.ToArray()), Token),
                Throws.TypeOf<FolderMissingException>().With.Message.Contains("folder marker missing: is the disk mounted?"));
            Assert.That(async () => await driver.UploadFileAsync(Meta("docs", "deep/er/new.txt"), new MemoryStream("x"u8.ToArray()), Token),
                Throws.TypeOf<FolderMissingException>());
            Assert.That(async () => await driver.CopyFromAsync(driver, Meta("pics", "source.bin", DiskRevision(source)), Meta("docs", "copy.bin"), Token),
                Throws.TypeOf<FolderMissingException>());
            Assert.That(async () => await driver.StartUploadAsync(Meta("docs", "chunked.bin"), Token), Throws.TypeOf<FolderMissingException>());
            Assert.That(async () => await driver.MoveFileAsync(Meta("pics", "source.bin", DiskRevision(source)), Meta("docs", "moved.bin"), Token),
                Throws.TypeOf<FolderMissingException>());
            Assert.That(Directory.Exists(DocsDir), Is.False, "the folder's directory is not made again");
            Assert.That(File.Exists(source), Is.True, "the move's source stays");
        });

        // What the engine takes for this service's deletions is refused too: the files are on the disk, not gone.
        Assert.Multiple(() =>
        {
            Assert.That(async () => await driver.DeleteFileAsync(Meta("docs", "sub/known.txt", revision), Token), Throws.TypeOf<FolderMissingException>());
            Assert.That(async () => await driver.MoveFileAsync(Meta("docs", "sub/known.txt", revision), Meta("docs", "sub/renamed.txt"), Token),
                Throws.TypeOf<FolderMissingException>());
            Assert.That(async () => await driver.StatAsync(Meta("docs", "sub/known.txt", revision), Token), Throws.TypeOf<FolderMissingException>());
            Assert.That(async () => await driver.OpenReadAsync(Meta("docs", "sub/known.txt", revision), Token), Throws.TypeOf<FolderMissingException>());
            Assert.That(Directory.Exists(DocsDir), Is.False);
        });
    }

    [Test]
    public async Task No_write_lands_in_a_directory_put_in_the_place_of_the_scanned_one()
    {
        var (driver, _) = await ScannedWithMarkerAsync();
        // The folder is a mount point whose disk went away: the same path, another (empty) directory.
        Directory.Move(DocsDir, DocsDir + ".aside");
        Directory.CreateDirectory(DocsDir);

        Assert.That(async () => await driver.UploadFileAsync(Meta("docs", "sub/new.txt"), new MemoryStream("x"u8.ToArray()), Token),
            Throws.TypeOf<FolderMissingException>().With.Message.Contains("folder marker missing"));
        Assert.That(async () => await driver.UploadFileAsync(Meta("docs", "top.txt"), new MemoryStream("x"u8.ToArray()), Token),
            Throws.TypeOf<FolderMissingException>(), "refused from then on without a look");
        Assert.That(Directory.EnumerateFileSystemEntries(DocsDir), Is.Empty);
    }

    [Test]
    public async Task A_scan_that_finds_the_folder_again_resumes_its_writes()
    {
        var (driver, _) = await ScannedWithMarkerAsync();
        Directory.Move(DocsDir, DocsDir + ".aside");
        Assert.That(async () => await driver.UploadFileAsync(Meta("docs", "new.txt"), new MemoryStream("x"u8.ToArray()), Token),
            Throws.TypeOf<FolderMissingException>());
        Directory.Move(DocsDir + ".aside", DocsDir);
        Assert.That(async () => await driver.UploadFileAsync(Meta("docs", "new.txt"), new MemoryStream("x"u8.ToArray()), Token),
            Throws.TypeOf<FolderMissingException>(), "lost until a scan finds it (the engine scans once the marker is back)");

        await driver.ScanAsync(Token);
        var written = Meta("docs", "new.txt");
        await driver.UploadFileAsync(written, new MemoryStream("x"u8.ToArray()), Token);

        Assert.That(File.ReadAllText(Path.Combine(DocsDir, "new.txt")), Is.EqualTo("x"));
    }

    [Test]
    public async Task The_engines_marker_makes_a_missing_folder_directory_only_before_a_scan_found_it()
    {
        // onitu sync --force: the marker is written before the scan, and makes the folder's directory.
        Directory.Delete(DocsDir);
        await using (var confirming = CreateDriver())
        {
            await confirming.UploadFileAsync(Meta("docs", Marker), new MemoryStream([]), Token);
            Assert.That(File.Exists(Path.Combine(DocsDir, Marker)), Is.True);
        }

        // After a scan found the folder, the marker (written by the engine just after the scan) makes nothing.
        var driver = CreateDriver();
        await driver.ScanAsync(Token);
        Directory.Delete(DocsDir, recursive: true);
        Assert.That(async () => await driver.UploadFileAsync(Meta("docs", Marker), new MemoryStream([]), Token), Throws.TypeOf<FolderMissingException>());
        Assert.That(Directory.Exists(DocsDir), Is.False);
    }

    [Test]
    public async Task Watching_fails_without_reporting_deletions_when_the_marker_goes_with_the_files()
    {
        Plug = CreatePlug(new Dictionary<string, object?> { ["debounce-ms"] = 300L });
        Write(Path.Combine(DocsDir, Marker), "");
        foreach (var name in new[] { "a.txt", "b.txt", "c/d.txt" })
            Write(Path.Combine(DocsDir, name), name);
        await StartWatchingAsync();
        var mark = Plug.CallCount;

        // Emptied, marker and all (an `rm -rf docs/{*,.*}`, or a disk unmounted from under a mount point that stays).
        foreach (var entry in Directory.EnumerateFileSystemEntries(DocsDir).Where(e => !e.EndsWith(TempFiles.StagingDirectoryName, StringComparison.Ordinal)))
        {
            if (Directory.Exists(entry))
                Directory.Delete(entry, recursive: true);
            else
                File.Delete(entry);
        }

        var error = Assert.ThrowsAsync<FolderMissingException>(async () => await LastWatch.WaitAsync(RecordingPlug.Timeout));
        Assert.Multiple(() =>
        {
            Assert.That(error!.Message, Does.Contain("folder marker missing: is the disk mounted?"));
            Assert.That(Plug.Calls(mark).Where(c => c.Kind == CallKind.Delete), Is.Empty);
        });
    }

    [Test]
    public async Task Watching_fails_when_another_directory_is_put_in_the_place_of_the_folder()
    {
        Write(Path.Combine(DocsDir, Marker), "");
        Write(Path.Combine(DocsDir, "a.txt"), "a");
        await StartWatchingAsync();
        var mark = Plug.CallCount;

        Directory.Move(DocsDir, DocsDir + ".aside");
        Directory.CreateDirectory(DocsDir);

        var error = Assert.ThrowsAsync<FolderMissingException>(async () => await LastWatch.WaitAsync(RecordingPlug.Timeout));
        Assert.Multiple(() =>
        {
            Assert.That(error!.Message, Does.Contain("folder marker missing: is the disk mounted?"));
            Assert.That(Plug.Calls(mark).Where(c => c.Kind == CallKind.Delete), Is.Empty);
        });
    }

    // The folder below the disk's mount point, or the mount point itself (whose directory stays, bare, when unmounted).
    [TestCase("mnt/docs")]
    [TestCase("mnt")]
    [Platform("Linux", Reason = "Bind mounts are Linux's.")]
    public async Task Watching_fails_when_the_disk_holding_the_folder_is_unmounted(string mapping)
    {
        // A bind mount: unmounting it tells the folder's watches nothing (they stay on the disk's directories).
        var (disk, mountPoint) = DiskWithFolder(mapping);
        try
        {
            Plug = new RecordingPlug(Root, [new FolderMapping("docs", mapping)]);
            var driver = await StartWatchingAsync();
            var mark = Plug.CallCount;

            var stopwatch = Stopwatch.StartNew();
            StagingTests.Unmount(mountPoint);

            var error = Assert.ThrowsAsync<FolderMissingException>(async () => await LastWatch.WaitAsync(RecordingPlug.Timeout));
            TestContext.Out.WriteLine($"failed {stopwatch.ElapsedMilliseconds} ms after the unmount");
            Assert.That(async () => await driver.UploadFileAsync(Meta("docs", "new.txt"), new MemoryStream("x"u8.ToArray()), Token),
                Throws.TypeOf<FolderMissingException>());
            Assert.Multiple(() =>
            {
                Assert.That(error!.Message, Does.Contain("folder marker missing: is the disk mounted?"));
                Assert.That(Plug.Calls(mark).Where(c => c.Kind == CallKind.Delete), Is.Empty);
                Assert.That(Directory.EnumerateFileSystemEntries(mountPoint), Is.Empty, "nothing on the bare mount point");
            });
        }
        finally
        {
            UnmountIfMounted(mountPoint);
        }
    }

    [TestCase("mnt/docs")]
    [TestCase("mnt")]
    [Platform("Linux", Reason = "Bind mounts are Linux's.")]
    public async Task Without_a_watch_no_write_lands_on_the_bare_mount_point_of_a_disk_unmounted_after_the_scan(string mapping)
    {
        // A one-shot pass watches nothing: the writes alone must find out, without a look per file.
        var (_, mountPoint) = DiskWithFolder(mapping);
        try
        {
            Plug = new RecordingPlug(Root, [new FolderMapping("docs", mapping)]) { SinglePass = true };
            var driver = CreateDriver();
            await driver.ScanAsync(Token);
            StagingTests.Unmount(mountPoint);

            Assert.That(async () => await driver.UploadFileAsync(Meta("docs", "sub/new.txt"), new MemoryStream("x"u8.ToArray()), Token),
                Throws.TypeOf<FolderMissingException>().With.Message.Contains("folder marker missing: is the disk mounted?"));
            Assert.That(async () => await driver.UploadFileAsync(Meta("docs", "top.txt"), new MemoryStream("x"u8.ToArray()), Token),
                Throws.TypeOf<FolderMissingException>());
            Assert.That(Directory.EnumerateFileSystemEntries(mountPoint), Is.Empty, "nothing on the bare mount point");
        }
        finally
        {
            UnmountIfMounted(mountPoint);
        }
    }

    // A disk (a directory bind-mounted on Root/mnt) holding the folder mapped at mapping, marker and a file in it.
    private (string Disk, string MountPoint) DiskWithFolder(string mapping)
    {
        var disk = Directory.CreateDirectory(Path.Combine(Root, "disk")).FullName;
        var mountPoint = Directory.CreateDirectory(Path.Combine(Root, "mnt")).FullName;
        var folderOnDisk = Path.Combine(disk, Path.GetRelativePath("mnt", mapping));
        Write(Path.Combine(folderOnDisk, Marker), "");
        Write(Path.Combine(folderOnDisk, "a.txt"), "a");
        StagingTests.BindMount(disk, mountPoint);
        return (disk, mountPoint);
    }

    private static void UnmountIfMounted(string mountPoint)
    {
        if (File.ReadLines("/proc/self/mountinfo").Any(line => line.Split(' ')[4] == mountPoint))
            StagingTests.Unmount(mountPoint);
    }
}
