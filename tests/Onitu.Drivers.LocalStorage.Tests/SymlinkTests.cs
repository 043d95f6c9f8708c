namespace Onitu.Drivers.LocalStorage.Tests;

/// <summary>
/// A symbolic link between a folder's directory and a file (<c>docs/escape -> outside</c>) must never carry a write,
/// rename or deletion out of the folder, and the link itself stays as the user made it.
/// </summary>
[Platform(Exclude = "Win", Reason = "Creating symbolic links needs a privilege on Windows.")]
public class SymlinkTests : DriverTestBase
{
    private string _outside = null!;
    private string Link => Path.Combine(DocsDir, "escape");

    [SetUp]
    public void CreateOutside()
    {
        _outside = Path.Combine(Path.GetTempPath(), "onitu-outside-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_outside);
        Directory.CreateDirectory(DocsDir);
        Directory.CreateSymbolicLink(Link, _outside);
    }

    [TearDown]
    public void RemoveOutside()
    {
        if (Directory.Exists(_outside))
            Directory.Delete(_outside, recursive: true);
    }

    private string[] Outside() => [.. Directory.GetFileSystemEntries(_outside, "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(_outside, p)).Order()];

    private void AssertLinkIntact()
    {
        var link = new DirectoryInfo(Link);
        Assert.That(link.LinkTarget, Is.EqualTo(_outside), "the user's link stays as it was");
    }

    private void AssertRefusalReported(int mark, string path)
    {
        var skip = Plug.Calls(mark).Where(c => c.Kind == CallKind.Skip).ToList();
        Assert.That(skip.Select(c => c.File.Path), Does.Contain(path), "the refused path is reported as skipped");
        Assert.That(skip.First(c => c.File.Path == path).File.Extra["skip-reason"], Does.Contain("symbolic link").And.Contain("escape"));
    }

    [Test]
    public async Task A_whole_file_upload_through_a_linked_directory_is_refused_and_writes_nothing_outside()
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        var mark = Plug.CallCount;

        var e = Assert.ThrowsAsync<PathRefusedException>(async () =>
            await driver.UploadFileAsync(Meta("docs", "escape/f"), new MemoryStream("secret"u8.ToArray()), Token));
        Assert.That(e!.Message, Does.Contain(Link).And.Contain("escape/f"));

        Assert.That(Outside(), Is.Empty);
        AssertLinkIntact();
        AssertRefusalReported(mark, "escape/f");
    }

    [Test]
    public async Task A_deep_path_below_a_linked_directory_creates_no_directory_outside()
    {
        var source = Write(Path.Combine(DocsDir, "source.txt"), "copied");
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);

        Assert.ThrowsAsync<PathRefusedException>(async () =>
            await driver.UploadFileAsync(Meta("docs", "escape/a/b/f"), new MemoryStream("x"u8.ToArray()), Token));
        Assert.ThrowsAsync<PathRefusedException>(async () =>
            await driver.CopyFromAsync(driver, Meta("docs", "source.txt", DiskRevision(source)), Meta("docs", "escape/c/f"), Token));

        Assert.That(Outside(), Is.Empty);
        AssertLinkIntact();
    }

    [Test]
    public async Task A_chunked_upload_through_a_linked_directory_is_refused_before_any_partial_file_is_made()
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        var metadata = Meta("docs", "escape/big.bin");

        Assert.ThrowsAsync<PathRefusedException>(async () => await driver.StartUploadAsync(metadata, Token));
        Assert.ThrowsAsync<PathRefusedException>(async () => await driver.UploadChunkAsync(metadata, 0, new byte[100], Token));
        Assert.ThrowsAsync<PathRefusedException>(async () => await driver.EndUploadAsync(metadata, Token));

        Assert.That(Outside(), Is.Empty);
        AssertLinkIntact();
    }

    [Test]
    public async Task Deleting_through_a_linked_directory_deletes_neither_the_outside_file_nor_the_link()
    {
        var outsideFile = Write(Path.Combine(_outside, "f"), "the user's file outside");
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        var mark = Plug.CallCount;

        Assert.ThrowsAsync<PathRefusedException>(async () =>
            await driver.DeleteFileAsync(Meta("docs", "escape/f", DiskRevision(outsideFile)), Token));

        Assert.That(File.ReadAllText(outsideFile), Is.EqualTo("the user's file outside"));
        AssertLinkIntact();
        AssertRefusalReported(mark, "escape/f");
    }

    [Test]
    public async Task A_file_outside_is_not_renamed_through_a_linked_directory()
    {
        var outsideFile = Write(Path.Combine(_outside, "f"), "the user's file outside");
        var inside = Write(Path.Combine(DocsDir, "in.txt"), "inside");
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);

        // As a conflict copy would: the existing file renamed aside.
        Assert.ThrowsAsync<PathRefusedException>(async () =>
            await driver.MoveFileAsync(Meta("docs", "escape/f", DiskRevision(outsideFile)), Meta("docs", "escape/f (conflict)"), Token));
        Assert.ThrowsAsync<PathRefusedException>(async () =>
            await driver.MoveFileAsync(Meta("docs", "escape/f", DiskRevision(outsideFile)), Meta("docs", "out.txt"), Token));
        // Nor is a file of the folder moved out through the link.
        Assert.ThrowsAsync<PathRefusedException>(async () =>
            await driver.MoveFileAsync(Meta("docs", "in.txt", DiskRevision(inside)), Meta("docs", "escape/in.txt"), Token));

        Assert.Multiple(() =>
        {
            Assert.That(Outside(), Is.EqualTo(new[] { "f" }));
            Assert.That(File.ReadAllText(outsideFile), Is.EqualTo("the user's file outside"));
            Assert.That(File.ReadAllText(inside), Is.EqualTo("inside"));
            Assert.That(File.Exists(Path.Combine(DocsDir, "out.txt")), Is.False);
        });
        AssertLinkIntact();
    }

    [Test]
    public async Task A_write_through_a_linked_directory_onto_a_file_the_engine_does_not_expect_is_refused_not_reported_as_a_change()
    {
        // The commit looks at the target itself only; a state it does not expect is looked at through every parent
        // before it is reported, or the state of a file outside the folder would be reported as this one's.
        Write(Path.Combine(_outside, "f"), "the user's file outside");
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        var mark = Plug.CallCount;

        Assert.ThrowsAsync<PathRefusedException>(async () =>
            await driver.UploadFileAsync(Meta("docs", "escape/f", "1-1"), new MemoryStream("engine"u8.ToArray()), Token));

        Assert.Multiple(() =>
        {
            Assert.That(Plug.Calls(mark).Where(c => c.Kind == CallKind.Update), Is.Empty, "no change reported from outside");
            Assert.That(File.ReadAllText(Path.Combine(_outside, "f")), Is.EqualTo("the user's file outside"));
        });
        AssertLinkIntact();
        AssertRefusalReported(mark, "escape/f");
    }

    [Test]
    public async Task A_copy_onto_a_file_that_is_itself_a_link_is_refused()
    {
        var target = Write(Path.Combine(_outside, "target.txt"), "outside");
        var link = Path.Combine(DocsDir, "link.txt");
        File.CreateSymbolicLink(link, target);
        var source = Write(Path.Combine(DocsDir, "src.txt"), "engine");
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);

        Assert.ThrowsAsync<PathRefusedException>(async () =>
            await driver.CopyFromAsync(driver, Meta("docs", "src.txt", DiskRevision(source)), Meta("docs", "link.txt"), Token));

        Assert.Multiple(() =>
        {
            Assert.That(new FileInfo(link).LinkTarget, Is.EqualTo(target));
            Assert.That(File.ReadAllText(target), Is.EqualTo("outside"));
            Assert.That(TempFilesIn(DocsDir), Is.Empty);
        });
    }

    [Test]
    public async Task A_file_that_is_itself_a_link_is_neither_replaced_nor_written_through()
    {
        var target = Write(Path.Combine(_outside, "target.txt"), "outside");
        var link = Path.Combine(DocsDir, "link.txt");
        File.CreateSymbolicLink(link, target);
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);

        Assert.ThrowsAsync<PathRefusedException>(async () =>
            await driver.UploadFileAsync(Meta("docs", "link.txt"), new MemoryStream("engine"u8.ToArray()), Token));

        Assert.Multiple(() =>
        {
            Assert.That(new FileInfo(link).LinkTarget, Is.EqualTo(target));
            Assert.That(File.ReadAllText(target), Is.EqualTo("outside"));
        });
    }

    [Test]
    public async Task A_staging_directory_that_is_a_link_is_not_written_through()
    {
        var staging = Path.Combine(DocsDir, TempFiles.StagingDirectoryName);
        Directory.CreateSymbolicLink(staging, _outside);
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);

        await driver.UploadFileAsync(Meta("docs", "f.txt"), new MemoryStream("inside"u8.ToArray()), Token);
        var chunked = Meta("docs", "c.bin");
        await driver.StartUploadAsync(chunked, Token);
        await driver.UploadChunkAsync(chunked, 0, new byte[10], Token);
        await driver.EndUploadAsync(chunked, Token);

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(Path.Combine(DocsDir, "f.txt")), Is.EqualTo("inside"));
            Assert.That(File.ReadAllBytes(Path.Combine(DocsDir, "c.bin")), Is.EqualTo(new byte[10]));
            Assert.That(Outside(), Is.Empty, "staged beside the targets instead");
            Assert.That(new DirectoryInfo(staging).LinkTarget, Is.EqualTo(_outside));
        });
    }

    [Test]
    public async Task A_regular_nested_write_still_works_beside_a_link()
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        var metadata = Meta("docs", "escaped/not/a/link.txt");

        await driver.UploadFileAsync(metadata, new MemoryStream("fine"u8.ToArray()), Token);

        Assert.That(File.ReadAllText(Path.Combine(DocsDir, "escaped/not/a/link.txt")), Is.EqualTo("fine"));
    }
}

/// <summary>
/// The race the driver's look at every parent cannot close alone: a directory replaced by a link between that look
/// and the rename. Uploads run while another thread keeps exchanging <c>docs/sub</c> (a real directory) with a link
/// out of the folder, atomically (<c>renameat2</c> with <c>RENAME_EXCHANGE</c>); each upload lands inside or is
/// refused — nothing ever lands outside.
/// </summary>
[Platform(Include = "Linux", Reason = "The rename is anchored (openat/renameat with O_NOFOLLOW) on Linux only.")]
public class SymlinkRaceTests : DriverTestBase
{
    // A test-only call: DllImport needs no unsafe code in this project (paths are ASCII here).
    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int renameat2(int olddirfd, string oldpath, int newdirfd, string newpath, uint flags);

    private static void Exchange(string a, string b)
    {
        const int AtFdCwd = -100;
        const uint RenameExchange = 2;
        if (renameat2(AtFdCwd, a, AtFdCwd, b, RenameExchange) != 0)
            throw new IOException($"renameat2 failed: {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
    }

    [TestCase(false, TestName = "A directory exchanged for a link while uploads commit never lets a file out")]
    [TestCase(true, TestName = "A directory exchanged for a link while copies commit never lets a file out")]
    public async Task A_directory_exchanged_for_a_link_while_writes_commit_never_lets_a_file_out(bool copy)
    {
        var outside = Directory.CreateTempSubdirectory("onitu-outside-").FullName;
        try
        {
            var sub = Path.Combine(DocsDir, "sub");
            var other = Path.Combine(DocsDir, "other");
            Directory.CreateDirectory(sub);
            var source = Write(Path.Combine(PicsDir, "source.txt"), "x");
            var read = Meta("pics", "source.txt", DiskRevision(source));
            File.CreateSymbolicLink(other, outside);
            await using var driver = CreateDriver();
            await driver.ScanAsync(Token);

            using var stop = new CancellationTokenSource();
            var swaps = 0;
            var swapper = Task.Run(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    Exchange(sub, other);
                    swaps++;
                }
            });
            var (landed, refused) = (0, 0);
            var deadline = DateTime.UtcNow.AddSeconds(8);
            for (var i = 0; i < 10_000 && DateTime.UtcNow < deadline; i++)
            {
                try
                {
                    if (copy)
                        await driver.CopyFromAsync(driver, read, Meta("docs", $"sub/f{i}"), Token);
                    else
                        await driver.UploadFileAsync(Meta("docs", $"sub/f{i}"), new MemoryStream("x"u8.ToArray()), Token);
                    landed++;
                }
                catch (PathRefusedException)
                {
                    refused++;
                }
            }
            await stop.CancelAsync();
            await swapper;

            TestContext.Out.WriteLine($"{swaps} exchanges; uploads: {landed} landed, {refused} refused");
            Assert.That(Directory.GetFileSystemEntries(outside, "*", SearchOption.AllDirectories), Is.Empty, "nothing written outside the folder");
            Assert.That(landed, Is.Positive, "some uploads found the real directory");
            Assert.That(refused, Is.Positive, "some met the link");
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }
    }
}
