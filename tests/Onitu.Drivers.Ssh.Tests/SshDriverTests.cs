using System.Diagnostics;
using System.Text;
using Onitu.Drivers.Toolkit;
using Onitu.Testing;
using Onitu.Tests;

namespace Onitu.Drivers.Ssh.Tests;

/// <summary>Driver behaviour the conformance suite does not cover: connections and remote layout.</summary>
[TestFixture]
[CancelAfter(30_000)]
public class SshDriverTests
{
    private string _root = "";

    [SetUp]
    public void CreateRoot()
    {
        _root = Path.Combine(SshdSetup.Sshd.DataDirectory, "driver-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_root);
    }

    private SshDriver CreateDriver(long connections = 1, ConformancePlug? plug = null, bool fsync = false, IPlug? gated = null) =>
        (SshDriver)new SshDriverFactory().Create(gated ?? plug ?? CreatePlug(connections, fsync));

    private ConformancePlug CreatePlug(long connections = 1, bool fsync = false)
    {
        var options = SshdSetup.Sshd.DriverOptions(_root);
        options["connections"] = connections;
        options["fsync"] = fsync;
        return new ConformancePlug("subject", [new FolderMapping("docs", "docs")], new DriverOptions(options), Path.GetTempPath());
    }

    private static async Task UploadAsync(SshDriver driver, string path, string text, CancellationToken cancellationToken)
    {
        var metadata = new Metadata("docs", path);
        using var content = new MemoryStream(Encoding.UTF8.GetBytes(text));
        await driver.UploadFileAsync(metadata, content, cancellationToken);
    }

    [Test]
    public async Task A_scan_keeps_its_reports_in_flight_together(CancellationToken cancellationToken)
    {
        // Each report may wait for a content check over SFTP (a racily clean file after an upload, a first pairing):
        // reported one at a time, a scan of 10,000 such files took 6 s. Here no report completes before 8 are in flight
        // (or a second has passed).
        Directory.CreateDirectory(Path.Combine(_root, "docs"));
        for (var i = 0; i < 12; i++)
            File.WriteAllText(Path.Combine(_root, "docs", $"f{i}.txt"), "content " + i);
        var plug = new GatedPlug(CreatePlug(), wanted: 8);
        await using var driver = CreateDriver(plug: null, gated: plug);

        await driver.ScanAsync(cancellationToken);

        Assert.That(plug.MostInFlight, Is.GreaterThanOrEqualTo(8));
        Assert.That(plug.Inner.KnownFiles().Select(m => m.Path), Is.EquivalentTo(Enumerable.Range(0, 12).Select(i => $"f{i}.txt")));
    }

    [Test]
    public async Task A_lost_connection_fails_one_call_transiently_and_the_next_call_reconnects(CancellationToken cancellationToken)
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(cancellationToken);
        await UploadAsync(driver, "a.txt", "one", cancellationToken);
        foreach (var id in driver.ConnectionProcessIds) Process.GetProcessById(id).Kill();

        var error = Assert.ThrowsAsync<Sftp.SshConnectionException>(async () => await UploadAsync(driver, "b.txt", "two", cancellationToken));
        Assert.That(error!.IsTransient, Is.True);
        await UploadAsync(driver, "b.txt", "two", cancellationToken);

        Assert.That(File.ReadAllText(Path.Combine(_root, "docs", "b.txt")), Is.EqualTo("two"));
    }

    [Test]
    public async Task Requests_are_spread_over_the_configured_connections_and_temporary_files_are_hidden(CancellationToken cancellationToken)
    {
        await using var driver = CreateDriver(connections: 3);
        await driver.ScanAsync(cancellationToken);
        await Task.WhenAll(Enumerable.Range(0, 12).Select(i => UploadAsync(driver, $"sub/f{i}.txt", new string('x', i), cancellationToken)));

        Assert.That(driver.ConnectionProcessIds, Has.Count.EqualTo(3));
        Assert.That(Directory.GetFiles(Path.Combine(_root, "docs", "sub")).Select(Path.GetFileName), Has.None.StartsWith(TempNames.Prefix));
        Assert.That(Directory.GetFiles(Path.Combine(_root, "docs", "sub")), Has.Length.EqualTo(12));
    }

    [Test]
    public async Task A_written_file_without_a_past_source_time_keeps_the_time_the_server_gave_it_not_one_the_driver_stamped(CancellationToken cancellationToken)
    {
        // The server here is this machine, so its clock is ours; what shows the driver's hand is the sub-second part:
        // a time the driver set travels as whole SFTP v3 seconds, the server's own stamp keeps its nanoseconds. No
        // source time, one of now and one ahead: none is stamped (only a source time in the past is, see
        // SshDriverPipelineTests), and never the engine's clock.
        await using var driver = CreateDriver();
        await driver.ScanAsync(cancellationToken);
        var before = DateTime.UtcNow;
        DateTimeOffset?[] sourceTimes = [null, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddHours(1)];
        for (var i = 0; i < 3; i++)
        {
            var metadata = new Metadata("docs", $"stamped{i}.txt") { ModifiedAt = sourceTimes[i] };
            using var content = new MemoryStream("content"u8.ToArray());
            await driver.UploadFileAsync(metadata, content, cancellationToken);

            var onServer = File.GetLastWriteTimeUtc(Path.Combine(_root, "docs", $"stamped{i}.txt"));
            Assert.That(onServer, Is.InRange(before.AddSeconds(-1), DateTime.UtcNow.AddSeconds(1)), "the time of the write");
            Assert.That(onServer.Ticks % TimeSpan.TicksPerSecond, Is.Not.Zero, "the server's own stamp, not a whole second the driver set");
            Assert.That(metadata.ModifiedAt, Is.EqualTo(new DateTimeOffset(onServer.Ticks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, TimeSpan.Zero)),
                "the driver reports the server's time (to the SFTP second)");
        }
    }

    [Test]
    public async Task Own_rewrites_within_one_second_still_change_the_revision(CancellationToken cancellationToken)
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(cancellationToken);
        var revisions = new List<string?>();
        var metadata = new Metadata("docs", "same.txt");
        for (var i = 0; i < 3; i++)
        {
            using var content = new MemoryStream("same"u8.ToArray());
            await driver.UploadFileAsync(metadata, content, cancellationToken);
            revisions.Add(metadata.Revision);
        }
        Assert.That(revisions, Is.Unique);
    }

    [Test]
    public async Task The_scan_removes_dead_temporary_files_and_keeps_resumable_and_foreign_recent_ones(CancellationToken cancellationToken)
    {
        var plug = CreatePlug();
        await using (var first = CreateDriver(plug: plug))
        {
            await first.ScanAsync(cancellationToken);
        }
        var writer = await plug.State.GetAsync("writer-id", cancellationToken);
        Assert.That(writer, Is.Not.Null.And.Not.Empty, "the driver keeps a writer id in its state");
        var docs = Path.Combine(_root, "docs");
        string Temp(string name)
        {
            var path = Path.Combine(docs, TempNames.Prefix + name);
            File.WriteAllText(path, "partial");
            return path;
        }
        string Old(string path)
        {
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow - RemoteChangePoller.AbandonedUploadAge - TimeSpan.FromDays(1));
            return path;
        }
        var deadWholeFile = Temp($"{Guid.NewGuid():N}.{writer}.0badcafe-12345678.tmp");
        var resumable = Temp($"{Guid.NewGuid():N}.{writer}.part");
        var abandonedPart = Old(Temp($"{Guid.NewGuid():N}.{writer}.part"));
        var foreignRecent = Temp($"{Guid.NewGuid():N}.feedf00d.01234567-89abcdef.tmp");
        var foreignAbandoned = Old(Temp($"{Guid.NewGuid():N}.feedf00d.part"));
        var oldMarker = Old(Temp("folder")); // the engine's folder marker, however old, is no temporary file

        await using (var second = CreateDriver(plug: plug))
        {
            await second.ScanAsync(cancellationToken);
        }

        Assert.Multiple(() =>
        {
            Assert.That(File.Exists(deadWholeFile), Is.False, "a whole-file upload of an earlier run never resumes");
            Assert.That(File.Exists(resumable), Is.True, "a recent chunked upload may resume");
            Assert.That(File.Exists(abandonedPart), Is.False);
            Assert.That(File.Exists(foreignRecent), Is.True, "another writer's upload may be under way");
            Assert.That(File.Exists(foreignAbandoned), Is.False);
            Assert.That(File.Exists(oldMarker), Is.True, "the folder marker is never removed");
        });
        Assert.That(plug.KnownFiles().Select(f => f.Path), Is.EqualTo(new[] { ".onitu-folder" }),
            "temporary files are never reported as files (the folder marker is an ordinary name to the driver; the engine ignores it)");
    }

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(2 * 261_120)]
    [TestCase(3 * 1024 * 1024 + 7)]
    public async Task The_read_ahead_stream_returns_the_exact_content_whatever_the_read_sizes(int size, CancellationToken cancellationToken)
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(cancellationToken);
        var content = System.Security.Cryptography.RandomNumberGenerator.GetBytes(size);
        await File.WriteAllBytesAsync(Path.Combine(_root, "docs", "r.bin"), content, cancellationToken);

        await using var stream = await driver.OpenReadAsync(new Metadata("docs", "r.bin"), cancellationToken);
        var random = new Random(size);
        var read = new MemoryStream();
        var buffer = new byte[300_000];
        int n;
        while ((n = await stream.ReadAsync(buffer.AsMemory(0, random.Next(1, buffer.Length)), cancellationToken)) > 0)
            read.Write(buffer, 0, n);

        Assert.That(read.Length, Is.EqualTo(size));
        Assert.That(read.ToArray().AsSpan().SequenceEqual(content), Is.True);
        Assert.That(await stream.ReadAsync(buffer, cancellationToken), Is.Zero, "the end of the file stays the end");
    }

    [Test]
    public async Task With_fsync_uploads_are_flushed_and_land_whole(CancellationToken cancellationToken)
    {
        await using var driver = CreateDriver(fsync: true);
        await driver.ScanAsync(cancellationToken);
        var content = System.Security.Cryptography.RandomNumberGenerator.GetBytes(1_000_003);

        using (var stream = new MemoryStream(content))
            await driver.UploadFileAsync(new Metadata("docs", "whole.bin"), stream, cancellationToken);
        var chunked = new Metadata("docs", "chunked.bin");
        await driver.StartUploadAsync(chunked, cancellationToken);
        await driver.UploadChunkAsync(chunked, 0, content.AsMemory(0, 500_000), cancellationToken);
        await driver.UploadChunkAsync(chunked, 500_000, content.AsMemory(500_000), cancellationToken);
        await driver.EndUploadAsync(chunked, cancellationToken);

        Assert.That(File.ReadAllBytes(Path.Combine(_root, "docs", "whole.bin")), Is.EqualTo(content));
        Assert.That(File.ReadAllBytes(Path.Combine(_root, "docs", "chunked.bin")), Is.EqualTo(content));
        Assert.That(chunked.Revision, Is.EqualTo($"{content.Length}-{new DateTimeOffset(File.GetLastWriteTimeUtc(Path.Combine(_root, "docs", "chunked.bin"))).ToUnixTimeSeconds()}"));
        Assert.That(Directory.GetFiles(Path.Combine(_root, "docs")).Select(Path.GetFileName), Has.None.StartsWith(TempNames.Prefix));
    }

    [Test]
    public async Task Chunked_reads_in_order_continue_one_stream_and_any_other_read_starts_afresh(CancellationToken cancellationToken)
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(cancellationToken);
        var content = System.Security.Cryptography.RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 7);
        await File.WriteAllBytesAsync(Path.Combine(_root, "docs", "c.bin"), content, cancellationToken);
        var metadata = new Metadata("docs", "c.bin") { Revision = "any" };

        // In order, in odd chunks: the stream stays open between chunks and closes at the end of the file.
        var read = new MemoryStream();
        var buffer = new byte[300_007];
        int n;
        while ((n = await driver.ReadChunkAsync(metadata, read.Length, buffer, cancellationToken)) > 0)
        {
            read.Write(buffer, 0, n);
            Assert.That(driver.OpenChunkReaders, Is.EqualTo(n == buffer.Length ? 1 : 0));
        }
        Assert.That(read.ToArray().AsSpan().SequenceEqual(content), Is.True);

        // Out of order, and after a revision change: the right bytes all the same.
        Assert.That(await driver.ReadChunkAsync(metadata, 1_000, buffer, cancellationToken), Is.EqualTo(buffer.Length));
        Assert.That(await driver.ReadChunkAsync(metadata, 5, buffer.AsMemory(0, 10), cancellationToken), Is.EqualTo(10));
        Assert.That(buffer.AsSpan(0, 10).SequenceEqual(content.AsSpan(5, 10)), Is.True);
        metadata.Revision = "other";
        Assert.That(await driver.ReadChunkAsync(metadata, 15, buffer.AsMemory(0, 10), cancellationToken), Is.EqualTo(10));
        Assert.That(buffer.AsSpan(0, 10).SequenceEqual(content.AsSpan(15, 10)), Is.True);
    }
}
