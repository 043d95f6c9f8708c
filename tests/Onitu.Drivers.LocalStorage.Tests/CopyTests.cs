using System.Runtime.Versioning;

namespace Onitu.Drivers.LocalStorage.Tests;

/// <summary>
/// <see cref="LocalStorageDriver.CopyFromAsync"/> (the kernel copies a file from another local service) and the
/// <see cref="FileCopy"/> it writes with: the content, the permission bits and the modification time are kept as
/// <see cref="File.Copy(string, string, bool)"/> kept them, the revision set is the file's on disk, and neither a
/// source that became a link nor a link among the target's parents carries anything across.
/// </summary>
public class CopyTests : DriverTestBase
{
    [TestCase(0, TestName = "An empty file")]
    [TestCase(5, TestName = "A small file")]
    [TestCase(3_000_000, TestName = "A file of several megabytes")]
    public async Task CopyFrom_writes_the_content_keeps_the_time_and_sets_the_revision_on_disk(int size)
    {
        var source = Path.Combine(DocsDir, "src.bin");
        Directory.CreateDirectory(DocsDir);
        await File.WriteAllBytesAsync(source, RandomBytes(size, size), Token);
        var time = new DateTime(2021, 3, 4, 5, 6, 7, DateTimeKind.Utc).AddTicks(1234567);
        File.SetLastWriteTimeUtc(source, time);
        await using var driver = CreateDriver();
        var destination = Meta("pics", "deep/er/copy.bin");

        await driver.CopyFromAsync(driver, Meta("docs", "src.bin", DiskRevision(source)), destination, Token);

        var copy = Path.Combine(PicsDir, "deep/er/copy.bin");
        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllBytes(copy), Is.EqualTo(RandomBytes(size, size)));
            Assert.That(File.GetLastWriteTimeUtc(copy), Is.EqualTo(time), "the source's modification time is kept");
            Assert.That(destination.Revision, Is.EqualTo(DiskRevision(copy)), "the revision is the file's on disk");
            Assert.That(destination.Size, Is.EqualTo(size));
            Assert.That(TempFilesIn(PicsDir), Is.Empty);
        });
    }

    [Test]
    [Platform(Exclude = "Win", Reason = "Unix permission bits.")]
    [UnsupportedOSPlatform("windows")]
    public async Task CopyFrom_keeps_the_permission_bits_even_those_the_umask_takes()
    {
        Directory.CreateDirectory(DocsDir);
        var modes = new[]
        {
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead,
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupWrite
                | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherWrite,
        };
        await using var driver = CreateDriver();
        for (var i = 0; i < modes.Length; i++)
        {
            var source = Write(Path.Combine(DocsDir, $"m{i}"), "x");
            File.SetUnixFileMode(source, modes[i]);
            await driver.CopyFromAsync(driver, Meta("docs", $"m{i}", DiskRevision(source)), Meta("pics", $"m{i}"), Token);
            Assert.That(File.GetUnixFileMode(Path.Combine(PicsDir, $"m{i}")), Is.EqualTo(modes[i]));
        }
    }

    [Test]
    [Platform(Exclude = "Win", Reason = "Creating symbolic links needs a privilege on Windows.")]
    public async Task CopyFrom_a_source_that_became_a_link_copies_nothing_through_it()
    {
        var outside = Directory.CreateTempSubdirectory("onitu-outside-").FullName;
        try
        {
            var secret = Write(Path.Combine(outside, "secret.txt"), "outside the folder");
            var source = Write(Path.Combine(DocsDir, "src.txt"), "inside");
            await using var driver = CreateDriver();
            var read = Meta("docs", "src.txt", DiskRevision(source));
            File.Delete(source);
            File.CreateSymbolicLink(source, secret);

            Assert.ThrowsAsync<RemoteFileNotFoundException>(async () =>
                await driver.CopyFromAsync(driver, read, Meta("pics", "copy.txt"), Token));

            Assert.Multiple(() =>
            {
                Assert.That(File.Exists(Path.Combine(PicsDir, "copy.txt")), Is.False);
                Assert.That(TempFilesIn(PicsDir), Is.Empty);
            });
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }
    }

    [Test]
    public async Task CopyFrom_refuses_when_the_target_changed_on_disk_and_reports_it()
    {
        var source = Write(Path.Combine(DocsDir, "src.txt"), "new");
        var target = Write(Path.Combine(PicsDir, "t.txt"), "edited by the user");
        await using var driver = CreateDriver();

        Assert.ThrowsAsync<ContentChangedException>(async () =>
            await driver.CopyFromAsync(driver, Meta("docs", "src.txt", DiskRevision(source)), Meta("pics", "t.txt", "1-1"), Token));

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(target), Is.EqualTo("edited by the user"));
            Assert.That(Plug.Calls().Single().File.Revision, Is.EqualTo(DiskRevision(target)));
            Assert.That(TempFilesIn(PicsDir), Is.Empty);
        });
    }

    [Test]
    [Platform(Include = "Linux", Reason = "FICLONE and tmpfs.")]
    public void A_clone_refused_by_a_file_system_is_not_tried_again_and_the_copy_still_lands()
    {
        if (!Directory.Exists("/dev/shm") || !FileCopy.IsNative)
            Assert.Ignore("No tmpfs at /dev/shm, or no statx here.");
        // tmpfs shares no blocks between files: FICLONE always fails there.
        var dir = Path.Combine("/dev/shm", "onitu-copy-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var source = Path.Combine(dir, "a");
            File.WriteAllBytes(source, RandomBytes(10_000, 7));
            var copy = new FileCopy();
            var device = NativeStat.LStat(source).Device;

            var first = copy.Copy(source, Path.Combine(dir, "b"), flushToDisk: false, Token);
            Assert.That(copy.CloneRefused(device), Is.True, "the refusal is remembered");
            var second = copy.Copy(source, Path.Combine(dir, "c"), flushToDisk: true, Token);

            Assert.Multiple(() =>
            {
                Assert.That(File.ReadAllBytes(Path.Combine(dir, "b")), Is.EqualTo(RandomBytes(10_000, 7)));
                Assert.That(File.ReadAllBytes(Path.Combine(dir, "c")), Is.EqualTo(RandomBytes(10_000, 7)));
                Assert.That(first, Is.EqualTo(FileState.TryRead(Path.Combine(dir, "b"))), "the state read on the handle is the file's");
                Assert.That(second, Is.EqualTo(FileState.TryRead(Path.Combine(dir, "c"))));
            });
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    [Platform(Exclude = "Win", Reason = "Unix permission bits.")]
    [UnsupportedOSPlatform("windows")]
    public void A_temporary_file_left_by_an_earlier_attempt_is_replaced_by_a_new_file_with_the_source_bits()
    {
        Directory.CreateDirectory(DocsDir);
        var source = Write(Path.Combine(DocsDir, "src"), "short");
        File.SetUnixFileMode(source, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var temp = Write(Path.Combine(DocsDir, "left-over"), "a much longer content from an interrupted attempt");
        File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite);

        // A second name of the left-over file shows whether it was rewritten in place or replaced.
        var secondName = Path.Combine(DocsDir, "second-name");
        Assert.That(link(temp, secondName), Is.Zero, "link(2)");

        var state = new FileCopy().Copy(source, temp, flushToDisk: false, Token);

        Assert.Multiple(() =>
        {
            // Made anew, not truncated: ext4 writes a file truncated to zero back in full when it is closed.
            Assert.That(File.ReadAllText(secondName), Is.EqualTo("a much longer content from an interrupted attempt"));
            Assert.That(File.ReadAllText(temp), Is.EqualTo("short"));
            Assert.That(File.GetUnixFileMode(temp), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
            Assert.That(state.Size, Is.EqualTo(5));
        });
    }

    [Test]
    [Platform(Include = "Linux", Reason = "The copy opens its temporary file with O_NOFOLLOW on Linux.")]
    public void A_temporary_file_name_that_is_a_link_is_not_written_through()
    {
        var outside = Directory.CreateTempSubdirectory("onitu-outside-").FullName;
        try
        {
            var victim = Write(Path.Combine(outside, "victim"), "the user's file");
            var source = Write(Path.Combine(DocsDir, "src"), "content");
            var temp = Path.Combine(DocsDir, "temp");
            File.CreateSymbolicLink(temp, victim);

            new FileCopy().Copy(source, temp, flushToDisk: false, Token);

            Assert.Multiple(() =>
            {
                Assert.That(File.ReadAllText(victim), Is.EqualTo("the user's file"));
                Assert.That(File.ResolveLinkTarget(temp, returnFinalTarget: false), Is.Null, "the link is replaced by a file of its own");
                Assert.That(File.ReadAllText(temp), Is.EqualTo("content"));
            });
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int link(string existing, string newName);
}
