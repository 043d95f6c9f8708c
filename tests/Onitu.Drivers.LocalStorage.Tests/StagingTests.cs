using System.Diagnostics;

namespace Onitu.Drivers.LocalStorage.Tests;

/// <summary>
/// The driver's temporary files live in a staging directory of its own at each folder's root, so no user file name is
/// reserved (but the marker and that directory); what a scan does not sync it names as skipped.
/// </summary>
public class StagingTests : DriverTestBase
{
    private string Staging => Path.Combine(DocsDir, TempFiles.StagingDirectoryName);

    [Test]
    public async Task A_chunked_upload_writes_its_partial_file_in_the_staging_directory_only()
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        var metadata = Meta("docs", "deep/dir/big.bin");

        await driver.StartUploadAsync(metadata, Token);
        await driver.UploadChunkAsync(metadata, 0, RandomBytes(1000, 1), Token);

        Assert.Multiple(() =>
        {
            Assert.That(Directory.GetFiles(Staging), Has.Length.EqualTo(1), "the partial file is staged");
            Assert.That(Directory.Exists(Path.Combine(DocsDir, "deep")), Is.False, "nothing appears beside the target before the end");
        });
        await driver.EndUploadAsync(metadata, Token);
        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllBytes(Path.Combine(DocsDir, "deep/dir/big.bin")), Is.EqualTo(RandomBytes(1000, 1)));
            Assert.That(Directory.GetFiles(Staging), Is.Empty);
        });
    }

    [Test]
    public async Task A_new_chunked_upload_replaces_a_longer_partial_file_of_the_same_name()
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        var metadata = Meta("docs", "big.bin");
        await driver.StartUploadAsync(metadata, Token);
        var partial = Directory.GetFiles(Staging).Single();
        // What an earlier attempt left: longer than the new content, which must not keep its tail.
        await File.WriteAllBytesAsync(partial, RandomBytes(5000, 9), Token);

        await driver.StartUploadAsync(metadata, Token);
        await driver.UploadChunkAsync(metadata, 0, RandomBytes(1000, 3), Token);
        await driver.EndUploadAsync(metadata, Token);

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllBytes(Path.Combine(DocsDir, "big.bin")), Is.EqualTo(RandomBytes(1000, 3)));
            Assert.That(Directory.GetFiles(Staging), Is.Empty);
        });
    }

    [Test]
    public async Task A_whole_file_upload_is_staged_and_renamed_into_place()
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        var content = RandomBytes(500_000, 2);
        var gate = new GateStream(content);
        var metadata = new Metadata("docs", "a/b.bin") { Size = content.Length };

        var upload = Task.Run(async () => await driver.UploadFileAsync(metadata, gate, Token), Token);
        await gate.Started.WaitAsync(RecordingPlug.Timeout, Token);
        Assert.That(Directory.GetFiles(Staging), Has.Length.EqualTo(1), "the content is written in the staging directory");
        gate.Release();
        await upload;

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllBytes(Path.Combine(DocsDir, "a/b.bin")), Is.EqualTo(content));
            Assert.That(Directory.GetFiles(Staging), Is.Empty);
            Assert.That(metadata.Revision, Is.EqualTo(DiskRevision(Path.Combine(DocsDir, "a/b.bin"))));
        });
    }

    [Test]
    public async Task Scans_ignore_the_staging_directory_at_the_root_but_not_a_users_directory_of_that_name_below()
    {
        Write(Path.Combine(Staging, "0123456789abcdef0123456789abcdef.0a1b2c3d.part"), "a partial upload");
        Write(Path.Combine(DocsDir, "sub", TempFiles.StagingDirectoryName, "notes.txt"), "a user's file");
        Write(Path.Combine(DocsDir, $".onitu-looks-like-ours.part"), "a user's file");

        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);

        Assert.That(Plug.Calls().Select(c => $"{c.Kind} {c.File.Path}"),
            Is.EquivalentTo(new[] { $"Update sub/{TempFiles.StagingDirectoryName}/notes.txt", "Update .onitu-looks-like-ours.part" }));
    }

    [Test]
    [Platform(Exclude = "Win", Reason = "A backslash is a separator on Windows.")]
    public async Task A_name_the_engine_cannot_carry_is_reported_skipped()
    {
        Write(Path.Combine(DocsDir, "dir", "back\\slash.txt"), "x");

        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);

        var skip = Plug.Calls().Single(c => c.Kind == CallKind.Skip);
        Assert.Multiple(() =>
        {
            Assert.That(skip.File.Extra["skip-path"], Is.EqualTo("dir/back\\slash.txt"), "named as it is on disk");
            Assert.That(skip.File.Extra["skip-reason"], Does.Contain("backslash"));
        });
    }

    /// <summary>
    /// The held staging directory's descriptor kept the folder's file system busy for as long as the driver lived: a
    /// user could not unmount a disk while <c>onitu run</c> idled on it ("target is busy"). It is let go once no write
    /// used it for a while, and the next write opens it again.
    /// </summary>
    [Test]
    [Platform("Linux", Reason = "Mounting a file system needs Linux and root.")]
    public async Task An_idle_driver_lets_its_folders_disk_be_unmounted()
    {
        Mount(DocsDir, "4m");
        try
        {
            await using var driver = CreateDriver();
            await driver.ScanAsync(Token);
            await driver.UploadFileAsync(Meta("docs", "first.txt"), new MemoryStream(RandomBytes(100, 1)), Token);
            Assert.That(Run("umount", DocsDir).Code, Is.Not.Zero, "busy while writes come (the staging directory is held)");

            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (Run("umount", DocsDir).Code != 0)
            {
                Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the disk could still not be unmounted after 20 s of no write");
                await Task.Delay(250, Token);
            }

            // Mounted again (a new, empty file system): the folder is not the one scanned, and a write is refused.
            Mount(DocsDir, "4m");
            Assert.That(async () => await driver.UploadFileAsync(Meta("docs", "second.txt"), new MemoryStream(RandomBytes(100, 2)), Token),
                Throws.InstanceOf<FolderMissingException>());
        }
        finally
        {
            while (Run("umount", DocsDir).Code == 0)
            {
            }
        }
    }

    [Test]
    [Platform("Linux", Reason = "Mounting a file system needs Linux and root.")]
    public async Task A_target_on_another_file_system_than_the_folder_root_is_written_atomically_beside_it()
    {
        var mount = Path.Combine(DocsDir, "mnt");
        Directory.CreateDirectory(mount);
        Mount(mount, "4m");
        try
        {
            await using var driver = CreateDriver();
            await driver.ScanAsync(Token);
            var metadata = Meta("docs", "mnt/file.bin");
            await driver.StartUploadAsync(metadata, Token);
            await driver.UploadChunkAsync(metadata, 0, RandomBytes(1000, 3), Token);

            Assert.That(TempFilesIn(mount), Has.Length.EqualTo(1), "staged on the target's own file system, so the rename stays atomic");
            await driver.EndUploadAsync(metadata, Token);
            await driver.UploadFileAsync(Meta("docs", "mnt/whole.bin"), new MemoryStream(RandomBytes(300_000, 4)), Token);

            Assert.Multiple(() =>
            {
                Assert.That(File.ReadAllBytes(Path.Combine(mount, "file.bin")), Is.EqualTo(RandomBytes(1000, 3)));
                Assert.That(File.ReadAllBytes(Path.Combine(mount, "whole.bin")), Is.EqualTo(RandomBytes(300_000, 4)));
                Assert.That(TempFilesIn(DocsDir), Is.Empty);
            });
        }
        finally
        {
            Unmount(mount);
        }
    }

    [Test]
    [Platform("Linux", Reason = "Mounting a file system needs Linux and root.")]
    public async Task A_target_in_a_bind_mount_of_the_folders_own_file_system_is_written_atomically_beside_it()
    {
        // One file system, two mounts: the kernel refuses a rename between them (EXDEV), so staging at the folder's root
        // would end in a copy over the target instead of a rename.
        var bound = Directory.CreateDirectory(Path.Combine(Root, "bound")).FullName;
        var mount = Directory.CreateDirectory(Path.Combine(DocsDir, "mnt")).FullName;
        BindMount(bound, mount);
        try
        {
            var source = Write(Path.Combine(PicsDir, "source.bin"), "copied");
            await using var driver = CreateDriver();
            await driver.ScanAsync(Token);
            var content = RandomBytes(500_000, 5);
            var gate = new GateStream(content);
            var upload = Task.Run(async () => await driver.UploadFileAsync(new Metadata("docs", "mnt/whole.bin") { Size = content.Length }, gate, Token), Token);
            await gate.Started.WaitAsync(RecordingPlug.Timeout, Token);
            var besideWhileWriting = TempFilesIn(mount);
            var stagedWhileWriting = TempFilesIn(Staging);
            gate.Release();
            await upload;
            await driver.CopyFromAsync(driver, Meta("pics", "source.bin", DiskRevision(source)), Meta("docs", "mnt/copy.bin"), Token);

            Assert.Multiple(() =>
            {
                Assert.That(besideWhileWriting, Has.Length.EqualTo(1), "staged on the target's own mount, so the rename stays atomic");
                Assert.That(stagedWhileWriting, Is.Empty);
                Assert.That(File.ReadAllBytes(Path.Combine(bound, "whole.bin")), Is.EqualTo(content));
                Assert.That(File.ReadAllText(Path.Combine(bound, "copy.bin")), Is.EqualTo("copied"));
                Assert.That(TempFilesIn(DocsDir), Is.Empty);
            });
        }
        finally
        {
            Unmount(mount);
        }
    }

    internal static void BindMount(string source, string directory)
    {
        if (Environment.UserName != "root")
            Assert.Ignore("A bind mount needs root.");
        var (code, output) = Run("mount", "--bind", source, directory);
        if (code != 0)
            Assert.Ignore($"Cannot bind-mount here: {output}");
    }

    internal static void Mount(string directory, string size)
    {
        if (Environment.UserName != "root")
            Assert.Ignore("Mounting a tmpfs needs root.");
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", $"size={size}", "tmpfs", directory);
        if (code != 0)
            Assert.Ignore($"Cannot mount a tmpfs here: {output}");
    }

    internal static void Unmount(string directory) => Run("umount", directory);

    private static (int Code, string Output) Run(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { UseShellExecute = false, RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, error);
    }
}
