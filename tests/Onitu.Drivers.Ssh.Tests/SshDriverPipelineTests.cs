using System.Security.Cryptography;
using Onitu.Drivers.Toolkit;
using Onitu.Testing;

namespace Onitu.Drivers.Ssh.Tests;

/// <summary>
/// Many uploads in flight together on one SFTP session: each lands whole under its own name, and a write the server
/// refuses fails only the upload it belongs to.
/// </summary>
[TestFixture]
[CancelAfter(60_000)]
public class SshDriverPipelineTests
{
    private string _root = "";

    [SetUp]
    public void CreateRoot()
    {
        _root = Path.Combine(SshdSetup.Sshd.DataDirectory, "pipeline-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_root);
    }

    private SshDriver CreateDriver(string? sshPath = null)
    {
        var options = SshdSetup.Sshd.DriverOptions(_root);
        options["connections"] = 1L;
        if (sshPath is not null) options["ssh-path"] = sshPath;
        var plug = new ConformancePlug("subject", [new FolderMapping("docs", "docs")], new DriverOptions(options), Path.GetTempPath());
        return (SshDriver)new SshDriverFactory().Create(plug);
    }

    private static async Task UploadAsync(SshDriver driver, Metadata metadata, byte[] content, CancellationToken cancellationToken)
    {
        using var stream = new MemoryStream(content);
        await driver.UploadFileAsync(metadata, stream, cancellationToken);
    }

    private string OnServer(string path) => Path.Combine(_root, "docs", path);

    private static string RevisionOf(string file) =>
        $"{new FileInfo(file).Length}-{new DateTimeOffset(File.GetLastWriteTimeUtc(file)).ToUnixTimeSeconds()}";

    private IEnumerable<string> TemporaryFiles() =>
        Directory.EnumerateFiles(Path.Combine(_root, "docs"), "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f).StartsWith(TempNames.Prefix, StringComparison.Ordinal));

    [Test]
    public async Task Many_uploads_in_flight_on_one_session_land_whole_each_with_its_own_revision(CancellationToken cancellationToken)
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(cancellationToken);
        Assert.That(driver.ConcurrentTransfers, Is.EqualTo(SshOptions.DefaultTransfers), "what the driver asks the engine for");

        // Empty, tiny, one-request and several-request files, in directories that do not exist yet, all at once; then
        // all rewritten at once: closed handles are reused by the server for other files while the rest are in flight.
        int[] sizes = [0, 1, 4096, 65_536, 300_000];
        for (var round = 0; round < 2; round++)
        {
            var files = Enumerable.Range(0, 150)
                .Select(i => (Metadata: new Metadata("docs", $"d{i % 7}/f{i}.bin") { Revision = round == 0 ? null : RevisionOf(OnServer($"d{i % 7}/f{i}.bin")) },
                    Content: RandomNumberGenerator.GetBytes(sizes[i % sizes.Length] + round)))
                .ToList();

            await Task.WhenAll(files.Select(f => UploadAsync(driver, f.Metadata, f.Content, cancellationToken)));

            foreach (var (metadata, content) in files)
            {
                Assert.That(File.ReadAllBytes(OnServer(metadata.Path)), Is.EqualTo(content), $"{metadata.Path} in round {round}");
                Assert.That(metadata.Revision, Is.EqualTo(RevisionOf(OnServer(metadata.Path))), $"the revision of {metadata.Path} is the file's on the server");
            }
        }
        Assert.That(TemporaryFiles(), Is.Empty);
        Assert.That(driver.ConnectionProcessIds, Has.Count.EqualTo(1), "one session carried them all");
    }

    [Test]
    public async Task Uploads_in_flight_into_a_new_directory_create_it_once_and_cost_six_requests_each(CancellationToken cancellationToken)
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(cancellationToken);
        const int count = 40;
        var files = Enumerable.Range(0, count).Select(i => (Metadata: new Metadata("docs", $"new/sub/f{i}.txt"), Content: RandomNumberGenerator.GetBytes(100 + i))).ToList();
        var before = driver.RequestCount;

        await Task.WhenAll(files.Select(f => UploadAsync(driver, f.Metadata, f.Content, cancellationToken)));

        foreach (var (metadata, content) in files)
            Assert.That(File.ReadAllBytes(OnServer(metadata.Path)), Is.EqualTo(content));
        // Each: open, write, fstat, close, the target's stat, rename. The look at new and new/sub for links (an LSTAT
        // each, shared by the calls in flight on the session; 245 requests in all here, each call sharing it) finds
        // them missing, so no open is tried before they are made; creating new/sub (mkdir new/sub, which fails, mkdir
        // new, mkdir new/sub) once, not once a file. A few calls coming after a look found nothing look again.
        Assert.That(driver.RequestCount - before, Is.InRange(6 * count, (7 * count) + 5));
    }

    [Test]
    public async Task A_write_the_server_refuses_fails_only_its_own_upload_among_those_in_flight(CancellationToken cancellationToken)
    {
        // OpenSSH's own sftp-server, run in place of ssh (the driver speaks SFTP over the program's pipes), limited to
        // files of 8 KiB: a write past that is refused (EFBIG), while the file's fstat and close are already in flight
        // behind it and other uploads share the session.
        var sftpServer = new[] { "/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/lib/ssh/sftp-server", "/usr/libexec/sftp-server" }
            .FirstOrDefault(File.Exists);
        Assert.That(sftpServer, Is.Not.Null, "OpenSSH's sftp-server (installed with openssh-server)");
        var script = Path.Combine(_root, "limited-sftp-server.sh");
        await File.WriteAllTextAsync(script, $"#!/bin/bash\ntrap '' XFSZ\nulimit -f 8\nexec {sftpServer}\n", cancellationToken);
        if (!OperatingSystem.IsWindows()) // sshd, and so these tests, run on Unix only
            File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        Directory.CreateDirectory(Path.Combine(_root, "docs"));
        File.WriteAllText(OnServer("kept.txt"), "the content before");
        await using var driver = CreateDriver(sshPath: script);
        await driver.ScanAsync(cancellationToken);
        var kept = new Metadata("docs", "kept.txt") { Revision = RevisionOf(OnServer("kept.txt")) };

        var small = Enumerable.Range(0, 160).Select(i => (Metadata: new Metadata("docs", $"small{i}.bin"), Content: RandomNumberGenerator.GetBytes(2048 + i))).ToList();
        var large = Enumerable.Range(0, 6).Select(i => (Metadata: new Metadata("docs", $"large{i}.bin"), Content: RandomNumberGenerator.GetBytes(64 * 1024))).ToList();
        large.Add((kept, RandomNumberGenerator.GetBytes(64 * 1024)));
        var outcomes = new ServiceException?[small.Count + large.Count];
        async Task Upload(int index, Metadata metadata, byte[] content)
        {
            try
            {
                await UploadAsync(driver, metadata, content, cancellationToken);
            }
            catch (ServiceException e)
            {
                outcomes[index] = e;
            }
        }
        // The small files go one after another on each of sixteen lanes: files are opened all along, while the large
        // ones fail (a server gives a closed handle's value to the next file opened).
        var lanes = Enumerable.Range(0, 16).Select(async lane =>
        {
            for (var i = lane; i < small.Count; i += 16)
                await Upload(i, small[i].Metadata, small[i].Content);
        });
        var refused = large.Select(async (f, i) =>
        {
            await Task.Delay(10 * i, cancellationToken);
            await Upload(small.Count + i, f.Metadata, f.Content);
        });
        await Task.WhenAll(lanes.Concat(refused));

        Assert.Multiple(() =>
        {
            for (var i = 0; i < small.Count; i++)
            {
                Assert.That(outcomes[i], Is.Null, $"{small[i].Metadata.Path} failed");
                Assert.That(File.ReadAllBytes(OnServer(small[i].Metadata.Path)), Is.EqualTo(small[i].Content), small[i].Metadata.Path);
            }
            for (var i = 0; i < large.Count; i++)
            {
                var error = outcomes[small.Count + i];
                Assert.That(error, Is.Not.Null, $"{large[i].Metadata.Path} is larger than the server accepts");
                Assert.That(error?.Message, Does.StartWith("SFTP write ").And.Contain(Path.Combine(_root, "docs")), "the refused request and the file it wrote");
            }
            for (var i = 0; i < 6; i++)
                Assert.That(File.Exists(OnServer($"large{i}.bin")), Is.False, "nothing half-written under a target's name");
            Assert.That(File.ReadAllText(OnServer("kept.txt")), Is.EqualTo("the content before"), "a refused rewrite keeps the file as it was");
            Assert.That(TemporaryFiles(), Is.Empty, "the refused uploads' temporary files are removed");
        });

        // The session goes on.
        var after = new Metadata("docs", "after.txt");
        await UploadAsync(driver, after, "still working"u8.ToArray(), cancellationToken);
        Assert.That(File.ReadAllText(OnServer("after.txt")), Is.EqualTo("still working"));
        Assert.That(driver.ConnectionProcessIds, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task An_upload_keeps_a_past_source_time_and_the_server_time_for_a_recent_one_and_its_rewrites_change_the_revision(CancellationToken cancellationToken)
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(cancellationToken);
        var past = new DateTimeOffset(2024, 5, 6, 7, 8, 9, 600, TimeSpan.Zero);
        var old = new Metadata("docs", "old.txt") { ModifiedAt = past, Size = 5 };
        var fresh = new Metadata("docs", "fresh.txt") { ModifiedAt = DateTimeOffset.UtcNow, Size = 5 };
        var future = new Metadata("docs", "future.txt") { ModifiedAt = DateTimeOffset.UtcNow.AddDays(1), Size = 5 };

        await Task.WhenAll(
            UploadAsync(driver, old, "first"u8.ToArray(), cancellationToken),
            UploadAsync(driver, fresh, "first"u8.ToArray(), cancellationToken),
            UploadAsync(driver, future, "first"u8.ToArray(), cancellationToken));

        var recent = DateTime.UtcNow.AddSeconds(-60);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(File.GetLastWriteTimeUtc(OnServer("old.txt")), Is.EqualTo(new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc)), "the source's time, to the second");
            Assert.That(old.ModifiedAt, Is.EqualTo(new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.Zero)));
            Assert.That(File.GetLastWriteTimeUtc(OnServer("fresh.txt")), Is.GreaterThan(recent), "a time within the window: the server's own");
            Assert.That(File.GetLastWriteTimeUtc(OnServer("future.txt")), Is.GreaterThan(recent).And.LessThan(DateTime.UtcNow.AddHours(1)), "a time ahead: the server's own");
            foreach (var metadata in new[] { old, fresh, future })
                Assert.That(metadata.Revision, Is.EqualTo(RevisionOf(OnServer(metadata.Path))), $"the revision of {metadata.Path} is the file's on the server");
        }

        // A new version of the same size from a source time in the same second (or earlier): the rewrite must still
        // change the revision, so it lands one second past the replaced file.
        var firstRevision = old.Revision;
        var rewrite = new Metadata("docs", "old.txt") { ModifiedAt = past.AddMilliseconds(200), Size = 5, Revision = firstRevision };
        await UploadAsync(driver, rewrite, "again"u8.ToArray(), cancellationToken);
        Assert.That(File.ReadAllText(OnServer("old.txt")), Is.EqualTo("again"));
        Assert.That(rewrite.Revision, Is.Not.EqualTo(firstRevision).And.EqualTo(RevisionOf(OnServer("old.txt"))));
        Assert.That(File.GetLastWriteTimeUtc(OnServer("old.txt")), Is.EqualTo(new DateTime(2024, 5, 6, 7, 8, 10, DateTimeKind.Utc)));
    }
}
