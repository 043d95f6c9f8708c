namespace Onitu.Drivers.LocalStorage.Tests;

/// <summary>
/// On Linux the driver holds each folder's staging directory open (<c>O_PATH | O_NOFOLLOW</c>) and makes, renames and
/// removes whole-file temporary files relative to it: no look at the directory per write, and no instant between a
/// look and a creation in which a link put in its place would carry a temporary file out of the folder. A directory
/// removed is made again; one renamed away is noticed at the next look at its path.
/// </summary>
[Platform(Include = "Linux", Reason = "The staging directory is held open with openat on Linux only.")]
public class HeldStagingTests : DriverTestBase
{
    private string _outside = null!;

    private string Staging => Path.Combine(DocsDir, TempFiles.StagingDirectoryName);

    [SetUp]
    public void CreateOutside() => _outside = Directory.CreateTempSubdirectory("onitu-outside-").FullName;

    [TearDown]
    public void RemoveOutside() => Directory.Delete(_outside, recursive: true);

    private string[] Outside() => [.. Directory.GetFileSystemEntries(_outside, "*", SearchOption.AllDirectories)];

    // The descriptors of this process open on the directory at fullPath (as /proc names them).
    private static int OpenDescriptorsOn(string fullPath) =>
        new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos().Count(fd =>
        {
            try
            {
                return fd.LinkTarget == fullPath;
            }
            catch (IOException)
            {
                return false; // closed meanwhile
            }
        });

    [Test]
    public async Task The_staging_directory_is_opened_once_for_every_write_and_closed_when_the_driver_is_disposed()
    {
        var source = Write(Path.Combine(DocsDir, "source.txt"), "copied");
        var driver = CreateDriver();
        await driver.ScanAsync(Token);

        for (var i = 0; i < 5; i++)
        {
            await driver.UploadFileAsync(Meta("docs", $"up/{i}.txt"), new MemoryStream("uploaded"u8.ToArray()), Token);
            await driver.CopyFromAsync(driver, Meta("docs", "source.txt", DiskRevision(source)), Meta("docs", $"copy/{i}.txt"), Token);
            var chunked = Meta("docs", $"chunked/{i}.bin");
            await driver.StartUploadAsync(chunked, Token);
            await driver.UploadChunkAsync(chunked, 0, RandomBytes(1000, i), Token);
            await driver.EndUploadAsync(chunked, Token);
        }

        Assert.Multiple(() =>
        {
            Assert.That(OpenDescriptorsOn(Staging), Is.EqualTo(1), "one descriptor, held across writes");
            Assert.That(File.ReadAllText(Path.Combine(DocsDir, "copy/4.txt")), Is.EqualTo("copied"));
            Assert.That(File.ReadAllText(Path.Combine(DocsDir, "up/4.txt")), Is.EqualTo("uploaded"));
            Assert.That(File.ReadAllBytes(Path.Combine(DocsDir, "chunked/4.bin")), Is.EqualTo(RandomBytes(1000, 4)));
            Assert.That(Directory.GetFileSystemEntries(Staging), Is.Empty);
        });
        await driver.DisposeAsync();
        Assert.That(OpenDescriptorsOn(Staging), Is.Zero, "closed at DisposeAsync");
    }

    [Test]
    public async Task A_staging_directory_swapped_for_a_link_after_a_write_looked_at_it_never_carries_a_temporary_file_out()
    {
        // Two uploads of one file share its temporary file, so the second waits for the first after it decided where to
        // stage: the directory is swapped for a link to outside in that wait, before the second creates its file.
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        var firstContent = RandomBytes(500_000, 1);
        var secondContent = RandomBytes(500_000, 2);
        var first = new GateStream(firstContent);
        var second = new GateStream(secondContent);
        var firstMeta = new Metadata("docs", "f.bin") { Size = firstContent.Length };
        var secondMeta = new Metadata("docs", "f.bin") { Size = secondContent.Length };
        var firstUpload = Task.Run(async () => await driver.UploadFileAsync(firstMeta, first, Token), Token);
        await first.Started.WaitAsync(RecordingPlug.Timeout, Token);
        var secondUpload = Task.Run(async () => await driver.UploadFileAsync(secondMeta, second, Token), Token);
        await Task.Delay(300, Token); // the second is waiting for the first's temporary file by now

        var moved = Path.Combine(DocsDir, "moved-staging");
        Directory.Move(Staging, moved);
        Directory.CreateSymbolicLink(Staging, _outside);
        first.Release();
        await firstUpload;
        secondMeta.Revision = firstMeta.Revision; // the engine's next write knows the first
        await second.Started.WaitAsync(RecordingPlug.Timeout, Token);
        var outsideWhileWriting = Outside();
        second.Release();
        await secondUpload;

        Assert.Multiple(() =>
        {
            Assert.That(outsideWhileWriting, Is.Empty, "the temporary file was made in the directory held, not through the link");
            Assert.That(File.ReadAllBytes(Path.Combine(DocsDir, "f.bin")), Is.EqualTo(secondContent));
            Assert.That(Directory.GetFileSystemEntries(moved), Is.Empty, "renamed into place from where it was made");
        });

        // Once the path is looked at again, the link is found: the next write is staged beside its target.
        driver.StagingDirectoryOf("docs").RecheckInterval = TimeSpan.Zero;
        await driver.UploadFileAsync(Meta("docs", "g.bin"), new MemoryStream(firstContent), Token);
        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllBytes(Path.Combine(DocsDir, "g.bin")), Is.EqualTo(firstContent));
            Assert.That(Outside(), Is.Empty);
            Assert.That(new DirectoryInfo(Staging).LinkTarget, Is.EqualTo(_outside), "the link is left as it is");
            Assert.That(OpenDescriptorsOn(moved), Is.Zero, "the directory renamed away is let go");
        });
    }

    [TestCase(false, TestName = "A staging directory removed and replaced by a link: the upload is staged beside its target")]
    [TestCase(true, TestName = "A staging directory removed and replaced by a link: the copy is staged beside its target")]
    public async Task A_staging_directory_removed_and_replaced_by_a_link_sends_the_write_beside_its_target(bool copy)
    {
        var source = Write(Path.Combine(PicsDir, "source.txt"), "content");
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        await driver.UploadFileAsync(Meta("docs", "opened.txt"), new MemoryStream("x"u8.ToArray()), Token);

        Directory.Delete(Staging);
        Directory.CreateSymbolicLink(Staging, _outside);
        if (copy)
            await driver.CopyFromAsync(driver, Meta("pics", "source.txt", DiskRevision(source)), Meta("docs", "sub/f.txt"), Token);
        else
            await driver.UploadFileAsync(Meta("docs", "sub/f.txt"), new MemoryStream("content"u8.ToArray()), Token);

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(Path.Combine(DocsDir, "sub/f.txt")), Is.EqualTo("content"));
            Assert.That(Outside(), Is.Empty);
            Assert.That(new DirectoryInfo(Staging).LinkTarget, Is.EqualTo(_outside), "the link is left as it is");
            Assert.That(TempFilesIn(Path.Combine(DocsDir, "sub")), Is.Empty);
        });
    }

    [Test]
    public async Task A_staging_directory_removed_between_two_writes_is_made_again_by_the_next()
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        await driver.UploadFileAsync(Meta("docs", "a.txt"), new MemoryStream("a"u8.ToArray()), Token);

        Directory.Delete(Staging);
        await driver.UploadFileAsync(Meta("docs", "b.txt"), new MemoryStream("b"u8.ToArray()), Token);

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(Path.Combine(DocsDir, "b.txt")), Is.EqualTo("b"));
            Assert.That(new DirectoryInfo(Staging).LinkTarget, Is.Null, "a real directory");
            Assert.That(Directory.GetFileSystemEntries(Staging), Is.Empty);
            Assert.That(TempFilesIn(DocsDir), Is.Empty, "staged there, not beside the target");
            Assert.That(OpenDescriptorsOn(Staging), Is.EqualTo(1), "the removed directory was let go");
        });
    }

    [Test]
    public async Task A_staging_directory_renamed_away_is_noticed_at_the_next_look_and_made_anew_at_its_place()
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        driver.StagingDirectoryOf("docs").RecheckInterval = TimeSpan.Zero;
        await driver.UploadFileAsync(Meta("docs", "a.txt"), new MemoryStream("a"u8.ToArray()), Token);
        var away = Path.Combine(Root, "away");
        Directory.Move(Staging, away);

        var gate = new GateStream(RandomBytes(500_000, 3));
        var upload = Task.Run(async () => await driver.UploadFileAsync(new Metadata("docs", "b.bin") { Size = 500_000 }, gate, Token), Token);
        await gate.Started.WaitAsync(RecordingPlug.Timeout, Token);
        var staged = Directory.GetFiles(Staging);
        var inAway = Directory.GetFileSystemEntries(away);
        gate.Release();
        await upload;

        Assert.Multiple(() =>
        {
            Assert.That(staged, Has.Length.EqualTo(1), "staged in the directory made anew at the folder's root");
            Assert.That(inAway, Is.Empty, "nothing written where the old directory went");
            Assert.That(File.ReadAllBytes(Path.Combine(DocsDir, "b.bin")), Is.EqualTo(RandomBytes(500_000, 3)));
            Assert.That(OpenDescriptorsOn(away), Is.Zero);
        });
    }

    [Test]
    public async Task A_link_put_in_the_place_of_the_targets_directory_after_the_write_started_is_refused()
    {
        // The commit opens the target's directory by the walk without links and looks at the target in it: the link is
        // refused, nothing is written or looked at outside.
        Write(Path.Combine(_outside, "f.bin"), "the user's file outside");
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        Directory.CreateDirectory(Path.Combine(DocsDir, "sub"));
        var gate = new GateStream(RandomBytes(500_000, 4));
        var upload = Task.Run(async () => await driver.UploadFileAsync(new Metadata("docs", "sub/f.bin") { Size = 500_000, Revision = "1-1" }, gate, Token), Token);
        await gate.Started.WaitAsync(RecordingPlug.Timeout, Token);
        var mark = Plug.CallCount;

        Directory.Delete(Path.Combine(DocsDir, "sub"));
        Directory.CreateSymbolicLink(Path.Combine(DocsDir, "sub"), _outside);
        gate.Release();

        Assert.ThrowsAsync<PathRefusedException>(async () => await upload);
        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(Path.Combine(_outside, "f.bin")), Is.EqualTo("the user's file outside"));
            Assert.That(Outside(), Has.Length.EqualTo(1));
            Assert.That(Plug.Calls(mark).Where(c => c.Kind == CallKind.Update), Is.Empty, "no state from outside reported");
            Assert.That(Directory.GetFileSystemEntries(Staging), Is.Empty, "the temporary file is removed");
        });
    }

    [Test]
    public async Task Writes_into_a_directory_that_deletions_beside_keep_emptying_and_removing_all_land()
    {
        // A deletion removes the directories it empties; a write into one of them walks to it, then renames: a removal
        // in between is met by walking again, as renames always were.
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        var deadline = DateTime.UtcNow.AddSeconds(5);
        var written = 0;
        for (var i = 0; i < 2000 && DateTime.UtcNow < deadline; i++)
        {
            var doomed = Write(Path.Combine(DocsDir, "d", $"doomed{i}"), "x");
            var delete = Task.Run(async () => await driver.DeleteFileAsync(Meta("docs", $"d/doomed{i}", DiskRevision(doomed)), Token), Token);
            await driver.UploadFileAsync(Meta("docs", $"d/f{i}"), new MemoryStream("y"u8.ToArray()), Token);
            await delete;
            File.Delete(Path.Combine(DocsDir, "d", $"f{i}"));
            written++;
        }
        TestContext.Out.WriteLine($"{written} writes");
        Assert.That(written, Is.GreaterThan(100));
    }

    [TestCase(false, TestName = "A chunked upload whose staging directory is swapped for a link midway, looked at later, writes nothing outside")]
    [TestCase(true, TestName = "A chunked upload whose staging directory is swapped for a link midway, looked at every call, writes nothing outside")]
    public async Task A_chunked_upload_whose_staging_directory_is_swapped_for_a_link_midway_writes_nothing_outside(bool lookEveryCall)
    {
        Write(Path.Combine(_outside, "decoy"), "not ours");
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        if (lookEveryCall)
            driver.StagingDirectoryOf("docs").RecheckInterval = TimeSpan.Zero;
        var metadata = Meta("docs", "big.bin");
        await driver.StartUploadAsync(metadata, Token);
        await driver.UploadChunkAsync(metadata, 0, RandomBytes(1000, 1), Token);

        Directory.Move(Staging, Path.Combine(DocsDir, "moved-staging"));
        Directory.CreateSymbolicLink(Staging, _outside);
        await driver.UploadChunkAsync(metadata, 1000, RandomBytes(1000, 2), Token);
        try
        {
            await driver.EndUploadAsync(metadata, Token);
        }
        catch (UploadNotResumableException)
        {
            // The partial file is not where the path now leads: the engine starts the upload over, beside the target.
            await driver.StartUploadAsync(metadata, Token);
            await driver.UploadChunkAsync(metadata, 0, RandomBytes(1000, 1), Token);
            await driver.UploadChunkAsync(metadata, 1000, RandomBytes(1000, 2), Token);
            await driver.EndUploadAsync(metadata, Token);
        }

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllBytes(Path.Combine(DocsDir, "big.bin")), Is.EqualTo(RandomBytes(1000, 1).Concat(RandomBytes(1000, 2))));
            Assert.That(Outside(), Is.EqualTo(new[] { Path.Combine(_outside, "decoy") }), "nothing written outside");
            Assert.That(new DirectoryInfo(Staging).LinkTarget, Is.EqualTo(_outside), "the link is left as it is");
        });
    }

    [Test]
    public async Task A_disk_mounted_in_the_folder_after_the_staging_directory_was_opened_is_written_atomically_beside_the_target()
    {
        // The mounts below the folder are read when the staging directory is opened and at each look at its path; a
        // write into a disk mounted in between is refused by the rename (EXDEV), transiently, and its retry is staged
        // beside the target.
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        await driver.UploadFileAsync(Meta("docs", "a.txt"), new MemoryStream("a"u8.ToArray()), Token);
        var mount = Directory.CreateDirectory(Path.Combine(DocsDir, "mnt")).FullName;
        StagingTests.Mount(mount, "4m");
        try
        {
            var content = RandomBytes(300_000, 6);
            var metadata = Meta("docs", "mnt/f.bin");
            try
            {
                await driver.UploadFileAsync(metadata, new MemoryStream(content), Token);
            }
            catch (ServiceException e) when (e.IsTransient)
            {
                TestContext.Out.WriteLine($"first attempt: {e.Message}");
                Assert.That(Directory.GetFileSystemEntries(Staging), Is.Empty, "the refused temporary file is removed");
                await driver.UploadFileAsync(metadata, new MemoryStream(content), Token);
            }

            Assert.Multiple(() =>
            {
                Assert.That(File.ReadAllBytes(Path.Combine(mount, "f.bin")), Is.EqualTo(content));
                Assert.That(TempFilesIn(DocsDir), Is.Empty);
            });
        }
        finally
        {
            StagingTests.Unmount(mount);
        }
    }

    [TestCase("36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw", "/mnt/parent")]
    [TestCase(@"36 35 98:0 / /home/a\040b\134c\011d rw - tmpfs tmpfs rw", "/home/a b\\c\td")]
    [TestCase(@"36 35 98:0 / /odd\04 rw - tmpfs tmpfs rw", @"/odd\04")]
    [TestCase("36 35 98:0", null)]
    public void A_mount_point_is_read_from_its_line_of_the_mount_table(string line, string? expected) =>
        Assert.That(Mounts.MountPoint(line), Is.EqualTo(expected));
}
