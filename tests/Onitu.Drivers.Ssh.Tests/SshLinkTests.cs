using System.Text;
using Onitu.Testing;

namespace Onitu.Drivers.Ssh.Tests;

/// <summary>
/// No write, rename or deletion through a symbolic link on the server (docs/engine.md, "No write through a link"),
/// handler by handler, against the fixture's real sshd: with <c>docs/escape -> outside</c>, every change of a file
/// under <c>escape/</c> is refused (reported skipped, <see cref="PathRefusedException"/>), nothing under the link's
/// target is created, renamed or deleted, and the link stays; so is a change that would replace a link.
/// </summary>
[TestFixture]
[CancelAfter(60_000)]
[Platform(Exclude = "Win", Reason = "The server is this machine's sshd, and its links are POSIX symbolic links.")]
public class SshLinkTests
{
    private string _root = "";
    private string _outside = "";

    private string Docs => Path.Combine(_root, "docs");

    [SetUp]
    public void CreateDirectories()
    {
        _root = Path.Combine(SshdSetup.Sshd.DataDirectory, "links-" + Guid.NewGuid().ToString("N")[..12]);
        _outside = Path.Combine(SshdSetup.Sshd.DataDirectory, "outside-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Docs);
        Directory.CreateDirectory(_outside);
        File.WriteAllText(Path.Combine(_outside, "f"), "the outsider's f");
        Directory.CreateSymbolicLink(Path.Combine(Docs, "escape"), _outside);
    }

    [TearDown]
    public void RemoveDirectories()
    {
        foreach (var directory in new[] { _root, _outside })
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private ConformancePlug CreatePlug(string folderPath = "docs", long pollIntervalMs = 2000)
    {
        var options = SshdSetup.Sshd.DriverOptions(_root);
        options["poll-interval-ms"] = pollIntervalMs;
        return new ConformancePlug("subject", [new FolderMapping("docs", folderPath)], new DriverOptions(options), Path.GetTempPath());
    }

    private static async Task<(SshDriver Driver, ConformancePlug Plug)> StartAsync(ConformancePlug plug, CancellationToken cancellationToken)
    {
        var driver = (SshDriver)new SshDriverFactory().Create(plug);
        await driver.ScanAsync(cancellationToken);
        return (driver, plug);
    }

    /// <summary>Every entry under the outside directory with its content: what a change through the link would alter.</summary>
    private List<string> Outside() =>
        [.. Directory.EnumerateFileSystemEntries(_outside, "*", SearchOption.AllDirectories)
            .Select(e => Path.GetRelativePath(_outside, e) + ": " + (File.Exists(e) ? File.ReadAllText(e) : "(directory)"))
            .Order(StringComparer.Ordinal)];

    private static readonly string[] Untouched = ["f: the outsider's f"];

    private static Stream Content(string text) => new MemoryStream(Encoding.UTF8.GetBytes(text));

    private void AssertRefused(PathRefusedException? refusal, ConformancePlug plug, string path)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(refusal, Is.Not.Null, "refused");
            Assert.That(refusal?.Message, Does.Contain("symbolic link"));
            Assert.That(plug.Reports, Has.Some.Matches<string>(r => r.StartsWith($"skip docs:{path} (", StringComparison.Ordinal) && r.Contains("symbolic link", StringComparison.Ordinal)),
                "the path is reported skipped");
            Assert.That(Outside(), Is.EqualTo(Untouched), "nothing created, changed, renamed or deleted under the link's target");
            Assert.That(new DirectoryInfo(Path.Combine(Docs, "escape")).LinkTarget, Is.EqualTo(_outside), "the link stays");
        }
    }

    [Test]
    public async Task A_whole_file_write_under_a_link_is_refused_even_onto_a_file_the_link_leads_to(CancellationToken cancellationToken)
    {
        var (driver, plug) = await StartAsync(CreatePlug(), cancellationToken);
        await using var disposeDriver = driver;

        var overExisting = Assert.ThrowsAsync<PathRefusedException>(async () =>
            await driver.UploadFileAsync(new Metadata("docs", "escape/f") { Size = 5 }, Content("L's f"), cancellationToken));
        AssertRefused(overExisting, plug, "escape/f");
        var deeper = Assert.ThrowsAsync<PathRefusedException>(async () =>
            await driver.UploadFileAsync(new Metadata("docs", "escape/new/deeper/g") { Size = 5 }, Content("L's g"), cancellationToken));
        AssertRefused(deeper, plug, "escape/new/deeper/g");
    }

    [Test]
    public async Task A_write_that_would_replace_a_link_is_refused_and_the_link_stays(CancellationToken cancellationToken)
    {
        File.CreateSymbolicLink(Path.Combine(Docs, "linked.txt"), Path.Combine(_outside, "f"));
        var (driver, plug) = await StartAsync(CreatePlug(), cancellationToken);
        await using var disposeDriver = driver;

        var refusal = Assert.ThrowsAsync<PathRefusedException>(async () =>
            await driver.UploadFileAsync(new Metadata("docs", "linked.txt") { Size = 3 }, Content("new"), cancellationToken));

        AssertRefused(refusal, plug, "linked.txt");
        Assert.That(new FileInfo(Path.Combine(Docs, "linked.txt")).LinkTarget, Is.EqualTo(Path.Combine(_outside, "f")), "the file link stays");
        Assert.That(Directory.GetFiles(Docs).Select(Path.GetFileName), Is.EquivalentTo(new[] { "linked.txt" }), "no temporary file left beside it");
    }

    [Test]
    public async Task A_chunked_upload_under_a_link_is_refused_at_its_start(CancellationToken cancellationToken)
    {
        var (driver, plug) = await StartAsync(CreatePlug(), cancellationToken);
        await using var disposeDriver = driver;
        var metadata = new Metadata("docs", "escape/big.bin") { Size = 100 };

        AssertRefused(Assert.ThrowsAsync<PathRefusedException>(async () => await driver.StartUploadAsync(metadata, cancellationToken)), plug, "escape/big.bin");
        AssertRefused(Assert.ThrowsAsync<PathRefusedException>(async () => await driver.RestartUploadAsync(metadata, 0, cancellationToken)), plug, "escape/big.bin");
        AssertRefused(Assert.ThrowsAsync<PathRefusedException>(async () => await driver.UploadChunkAsync(metadata, 0, new byte[100], cancellationToken)), plug, "escape/big.bin");
        AssertRefused(Assert.ThrowsAsync<PathRefusedException>(async () => await driver.EndUploadAsync(metadata, cancellationToken)), plug, "escape/big.bin");
    }

    [Test]
    public async Task A_chunked_upload_whose_directory_became_a_link_is_neither_renamed_into_place_nor_resumed_nor_removed_through_it(CancellationToken cancellationToken)
    {
        var (driver, plug) = await StartAsync(CreatePlug(), cancellationToken);
        await using var disposeDriver = driver;
        var metadata = new Metadata("docs", "sub/big.bin") { Size = 200 };
        await driver.StartUploadAsync(metadata, cancellationToken);
        await driver.UploadChunkAsync(metadata, 0, new byte[100], cancellationToken);

        // The directory is moved out of the folder and a link to it left in its place, as a user might.
        var moved = Path.Combine(_outside, "sub-moved");
        Directory.Move(Path.Combine(Docs, "sub"), moved);
        Directory.CreateSymbolicLink(Path.Combine(Docs, "sub"), moved);
        var outsideBefore = Outside();
        // Past the time a directory found real is trusted without another look (RemoteLinks.TrustTime).
        await Task.Delay(RemoteLinks.TrustTime + TimeSpan.FromMilliseconds(200), cancellationToken);

        Assert.ThrowsAsync<PathRefusedException>(async () => await driver.RestartUploadAsync(metadata, 100, cancellationToken), "resume");
        Assert.ThrowsAsync<PathRefusedException>(async () => await driver.UploadChunkAsync(metadata, 100, new byte[100], cancellationToken), "the next chunk, opening the partial file again");
        Assert.ThrowsAsync<PathRefusedException>(async () => await driver.EndUploadAsync(metadata, cancellationToken), "the final rename");
        await driver.AbortUploadAsync(metadata, cancellationToken);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(Outside(), Is.EqualTo(outsideBefore), "the partial file is where the move took it: not renamed, grown or removed through the link");
            Assert.That(File.Exists(Path.Combine(moved, "big.bin")), Is.False, "never renamed into place through the link");
            Assert.That(plug.Reports, Has.Some.Matches<string>(r => r.StartsWith("skip docs:sub/big.bin (", StringComparison.Ordinal) && r.Contains("symbolic link", StringComparison.Ordinal)));
        }
    }

    [Test]
    public async Task A_deletion_under_a_link_or_of_a_link_is_refused(CancellationToken cancellationToken)
    {
        File.CreateSymbolicLink(Path.Combine(Docs, "linked.txt"), Path.Combine(_outside, "f"));
        var (driver, plug) = await StartAsync(CreatePlug(), cancellationToken);
        await using var disposeDriver = driver;
        var revision = $"{new FileInfo(Path.Combine(_outside, "f")).Length}-{new DateTimeOffset(File.GetLastWriteTimeUtc(Path.Combine(_outside, "f"))).ToUnixTimeSeconds()}";

        AssertRefused(Assert.ThrowsAsync<PathRefusedException>(async () =>
            await driver.DeleteFileAsync(new Metadata("docs", "escape/f") { Revision = revision }, cancellationToken)), plug, "escape/f");
        AssertRefused(Assert.ThrowsAsync<PathRefusedException>(async () =>
            await driver.DeleteFileAsync(new Metadata("docs", "linked.txt") { Revision = revision }, cancellationToken)), plug, "linked.txt");
        Assert.That(new FileInfo(Path.Combine(Docs, "linked.txt")).LinkTarget, Is.Not.Null, "the file link stays");
    }

    [Test]
    public async Task A_move_from_into_or_onto_a_link_is_refused_and_the_source_stays(CancellationToken cancellationToken)
    {
        File.WriteAllText(Path.Combine(Docs, "mine.txt"), "mine");
        File.CreateSymbolicLink(Path.Combine(Docs, "linked.txt"), Path.Combine(_outside, "f"));
        var (driver, plug) = await StartAsync(CreatePlug(), cancellationToken);
        await using var disposeDriver = driver;
        var mine = plug.Known("docs", "mine.txt");
        var outsiders = $"{new FileInfo(Path.Combine(_outside, "f")).Length}-{new DateTimeOffset(File.GetLastWriteTimeUtc(Path.Combine(_outside, "f"))).ToUnixTimeSeconds()}";

        // A conflict copy renamed aside under the link, a file moved out of it, one moved into it, one onto a link.
        AssertRefused(Assert.ThrowsAsync<PathRefusedException>(async () =>
            await driver.MoveFileAsync(new Metadata("docs", "escape/f") { Revision = outsiders }, new Metadata("docs", "escape/f.conflict-L-20260101-000000"), cancellationToken)), plug, "escape/f");
        AssertRefused(Assert.ThrowsAsync<PathRefusedException>(async () =>
            await driver.MoveFileAsync(new Metadata("docs", "escape/f") { Revision = outsiders }, new Metadata("docs", "out.txt"), cancellationToken)), plug, "escape/f");
        AssertRefused(Assert.ThrowsAsync<PathRefusedException>(async () =>
            await driver.MoveFileAsync(mine, new Metadata("docs", "escape/new/mine.txt"), cancellationToken)), plug, "escape/new/mine.txt");
        AssertRefused(Assert.ThrowsAsync<PathRefusedException>(async () =>
            await driver.MoveFileAsync(mine, new Metadata("docs", "linked.txt"), cancellationToken)), plug, "linked.txt");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(File.ReadAllText(Path.Combine(Docs, "mine.txt")), Is.EqualTo("mine"), "the source stays");
            Assert.That(File.Exists(Path.Combine(Docs, "out.txt")), Is.False);
            Assert.That(new FileInfo(Path.Combine(Docs, "linked.txt")).LinkTarget, Is.Not.Null, "the file link stays");
        }
    }

    [Test]
    public async Task Links_and_special_files_are_named_skipped_by_the_scan_and_the_polls(CancellationToken cancellationToken)
    {
        File.CreateSymbolicLink(Path.Combine(Docs, "linked.txt"), Path.Combine(_outside, "f"));
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [Path.Combine(Docs, "pipe")]))
        {
            await mkfifo.WaitForExitAsync(cancellationToken);
            Assert.That(mkfifo.ExitCode, Is.Zero, "mkfifo");
        }
        File.WriteAllText(Path.Combine(Docs, "plain.txt"), "plain");
        var (driver, plug) = await StartAsync(CreatePlug(), cancellationToken);
        await using var disposeDriver = driver;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(plug.Reports, Has.Some.EqualTo("skip docs:escape (a symbolic link: Onitu does not follow links, nor sync them)"));
            Assert.That(plug.Reports, Has.Some.EqualTo("skip docs:linked.txt (a symbolic link: Onitu does not follow links, nor sync them)"));
            Assert.That(plug.Reports, Has.Some.EqualTo("skip docs:pipe (not a regular file (a device, pipe or socket))"));
            Assert.That(plug.KnownFiles().Select(m => m.Path), Is.EquivalentTo(new[] { "plain.txt" }), "nothing under the link is reported");
        }

        // A link made while watching is named by the poll that lists its directory.
        Directory.CreateSymbolicLink(Path.Combine(Docs, "later"), _outside);
        using var watch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watching = driver.WatchAsync(watch.Token);
        await Eventually.HoldsAsync(() => plug.Reports.Contains("skip docs:later (a symbolic link: Onitu does not follow links, nor sync them)"),
            "the poll to name the new link", TimeSpan.FromSeconds(30), () => string.Join("\n", plug.Reports), cancellationToken);
        await watch.CancelAsync();
        await watching;
        Assert.That(plug.KnownFiles().Select(m => m.Path), Is.EquivalentTo(new[] { "plain.txt" }));
    }

    [Test]
    public async Task A_directory_replaced_by_a_link_is_out_of_sight_not_deleted(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.Combine(Docs, "photos", "2024"));
        File.WriteAllText(Path.Combine(Docs, "photos", "a.jpg"), "a");
        File.WriteAllText(Path.Combine(Docs, "photos", "2024", "b.jpg"), "b");
        var (driver, plug) = await StartAsync(CreatePlug(), cancellationToken);
        await using var disposeDriver = driver;
        Assert.That(plug.KnownFiles().Select(m => m.Path), Is.EquivalentTo(new[] { "photos/a.jpg", "photos/2024/b.jpg" }));

        // Moved to another disk, a link left in its place: the files are not gone, only out of the folder's sight.
        var moved = Path.Combine(_outside, "photos");
        Directory.Move(Path.Combine(Docs, "photos"), moved);
        Directory.CreateSymbolicLink(Path.Combine(Docs, "photos"), moved);
        using var watch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watching = driver.WatchAsync(watch.Token);
        await Eventually.HoldsAsync(() => plug.Reports.Contains("skip docs:photos (a symbolic link: Onitu does not follow links, nor sync them)"),
            "a poll to name the link", TimeSpan.FromSeconds(30), () => string.Join("\n", plug.Reports), cancellationToken);
        await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken); // more polls
        await watch.CancelAsync();
        await watching;
        Assert.That(plug.Reports, Has.None.StartsWith("delete "), "a poll reports nothing deleted");

        // Nor does a scan.
        await using var again = (SshDriver)new SshDriverFactory().Create(plug);
        await again.ScanAsync(cancellationToken);
        Assert.That(plug.Reports, Has.None.StartsWith("delete "), "a scan reports nothing deleted");
        Assert.That(plug.KnownFiles().Select(m => m.Path), Is.EquivalentTo(new[] { "photos/a.jpg", "photos/2024/b.jpg" }));
    }

    [Test]
    public async Task A_folder_whose_own_directory_is_a_link_is_scanned_and_polled_through_it(CancellationToken cancellationToken)
    {
        // The setup chose the link: the folder's directory is followed, only what lies below it is not.
        File.WriteAllText(Path.Combine(Docs, "plain.txt"), "plain");
        Directory.CreateSymbolicLink(Path.Combine(_root, "docs-link"), Docs);
        var (driver, plug) = await StartAsync(CreatePlug("docs-link", pollIntervalMs: 100), cancellationToken);
        await using var disposeDriver = driver;
        Assert.That(plug.KnownFiles().Select(m => m.Path), Is.EquivalentTo(new[] { "plain.txt" }));

        using var watch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watching = driver.WatchAsync(watch.Token);
        File.WriteAllText(Path.Combine(Docs, "later.txt"), "later");
        await Eventually.HoldsAsync(() => plug.KnownFiles().Any(m => m.Path == "later.txt"),
            "a poll to find the new file", TimeSpan.FromSeconds(30), () => string.Join("\n", plug.Reports), cancellationToken);
        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken); // ten more polls
        Assert.That(watching.IsCompleted, Is.False, "the polls go on: the folder's directory is not taken for gone");
        await watch.CancelAsync();
        await watching;
        await driver.UploadFileAsync(new Metadata("docs", "sub/up.txt") { Size = 2 }, Content("up"), cancellationToken);
        Assert.That(File.ReadAllText(Path.Combine(Docs, "sub", "up.txt")), Is.EqualTo("up"), "written through the folder's own link");
    }

    [Test]
    public async Task The_look_for_links_starts_below_the_folders_directory_even_when_that_is_the_servers_root(CancellationToken cancellationToken)
    {
        await using var client = await Sftp.SftpClient.ConnectAsync(SshdSetup.Sshd.ConnectionOptions(), cancellationToken);
        var links = new RemoteLinks();
        var escaped = Path.Combine(Docs, "escape", "f");

        // A folder mapped to "/": every directory from there down is looked at, the link among them found.
        var fromServerRoot = await links.LookAtAsync(client, "/", escaped, cancellationToken);
        var fromFolder = await links.LookAtAsync(client, Docs, escaped, cancellationToken);
        // The folder's own directory (here a link's target or not) is never among them.
        var throughLinkedRoot = await links.LookAtAsync(client, Path.Combine(Docs, "escape"), escaped, cancellationToken);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(fromServerRoot.Link, Is.EqualTo(Path.Combine(Docs, "escape")));
            Assert.That(fromFolder.Link, Is.EqualTo(Path.Combine(Docs, "escape")));
            Assert.That(throughLinkedRoot.Link, Is.Null);
            Assert.That(throughLinkedRoot.Attributes?.IsRegularFile, Is.True, "the file under the folder's own link");
        }
    }
}
