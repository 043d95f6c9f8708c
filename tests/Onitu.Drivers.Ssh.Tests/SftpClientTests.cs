using System.Diagnostics;
using System.Security.Cryptography;
using Onitu.Drivers.Ssh.Sftp;

namespace Onitu.Drivers.Ssh.Tests;

/// <summary>The SFTP v3 client against a real sshd on 127.0.0.1 (see <see cref="SshdFixture"/>).</summary>
[TestFixture]
[CancelAfter(30_000)]
public class SftpClientTests
{
    private string _dir = "";

    private static SshdFixture Sshd => SshdSetup.Sshd;

    [SetUp]
    public void CreateDirectory()
    {
        _dir = Path.Combine(Sshd.DataDirectory, TestContext.CurrentContext.Test.Name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_dir);
    }

    private static Task<SftpClient> ConnectAsync(CancellationToken cancellationToken) =>
        SftpClient.ConnectAsync(Sshd.ConnectionOptions(), cancellationToken);

    [Test]
    public async Task Connecting_negotiates_version_3_and_reads_the_OpenSSH_extensions_and_limits(CancellationToken cancellationToken)
    {
        await using var client = await ConnectAsync(cancellationToken);

        Assert.That(client.ServerVersion, Is.EqualTo(3u));
        Assert.That(client.HasExtension(SftpExtensions.PosixRename), Is.True);
        Assert.That(client.HasExtension(SftpExtensions.Limits), Is.True);
        Assert.That(client.HasExtension(SftpExtensions.Fsync), Is.True);
        Assert.That(client.Limits, Is.Not.Null);
        Assert.That(client.Limits!.MaxReadLength, Is.GreaterThan(0ul));
        // No request size configured: as large as the server's limits allow, up to 256 KiB.
        Assert.That(client.MaxReadSize, Is.EqualTo((int)Math.Min(256 * 1024ul, client.Limits.MaxReadLength)));
        Assert.That(client.MaxWriteSize, Is.LessThanOrEqualTo((int)client.Limits.MaxWriteLength));
        Assert.That(client.MaxWriteSize, Is.LessThan((int)client.Limits.MaxPacketLength));
        Assert.That(await client.RealPathAsync(_dir + "/./../" + Path.GetFileName(_dir), cancellationToken), Is.EqualTo(_dir));
    }

    [Test]
    public async Task A_configured_request_size_is_used_below_the_servers_limits(CancellationToken cancellationToken)
    {
        await using var client = await SftpClient.ConnectAsync(SshdSetup.Sshd.ConnectionOptions() with { RequestSize = 8192 }, cancellationToken);

        Assert.That(client.MaxReadSize, Is.EqualTo(8192));
        Assert.That(client.MaxWriteSize, Is.EqualTo(8192));
    }

    [Test]
    public async Task A_10_MiB_file_written_with_pipelined_writes_reads_back_identical(CancellationToken cancellationToken)
    {
        var content = RandomNumberGenerator.GetBytes(10 * 1024 * 1024 + 12_345);
        var path = _dir + "/big.bin";
        await using var client = await ConnectAsync(cancellationToken);

        var watch = Stopwatch.StartNew();
        await client.WriteAllBytesAsync(path, content, cancellationToken);
        var written = watch.Elapsed;
        watch.Restart();
        var read = await client.ReadAllBytesAsync(path, cancellationToken);
        var readTime = watch.Elapsed;
        watch.Restart();
        read = await client.ReadAllBytesAsync(path, cancellationToken);
        TestContext.Out.WriteLine($"second read {watch.Elapsed.TotalMilliseconds:0} ms");
        watch.Restart();
        await client.WriteAllBytesAsync(path, content, cancellationToken);
        TestContext.Out.WriteLine($"second write {watch.Elapsed.TotalMilliseconds:0} ms, first read {readTime.TotalMilliseconds:0} ms");
        TestContext.Out.WriteLine($"10 MiB: write {written.TotalMilliseconds:0} ms, read {watch.Elapsed.TotalMilliseconds:0} ms");

        Assert.That(File.ReadAllBytes(path).AsSpan().SequenceEqual(content), Is.True, "the file on the server");
        Assert.That(read.AsSpan().SequenceEqual(content), Is.True, "the file read back");
    }

    [Test]
    public async Task A_pipelined_read_at_an_offset_stops_at_the_end_of_the_file(CancellationToken cancellationToken)
    {
        var content = RandomNumberGenerator.GetBytes(200_001);
        await File.WriteAllBytesAsync(_dir + "/f", content, cancellationToken);
        await using var client = await ConnectAsync(cancellationToken);
        var handle = await client.OpenAsync(_dir + "/f", SftpOpenFlags.Read, null, cancellationToken);
        try
        {
            var buffer = new byte[300_000];
            var read = await client.ReadAsync(handle, 1_000, buffer, cancellationToken);
            Assert.That(read, Is.EqualTo(199_001));
            Assert.That(buffer.AsSpan(0, read).SequenceEqual(content.AsSpan(1_000)), Is.True);
            Assert.That(await client.ReadAsync(handle, 200_001, buffer, cancellationToken), Is.Zero);
            Assert.That(await client.ReadChunkAsync(handle, 500_000, new byte[10], cancellationToken), Is.Zero);
        }
        finally
        {
            await client.CloseAsync(handle, cancellationToken);
        }
    }

    [Test]
    public async Task Writes_at_offsets_fsync_and_fstat_see_the_new_size(CancellationToken cancellationToken)
    {
        await using var client = await ConnectAsync(cancellationToken);
        var handle = await client.OpenAsync(_dir + "/w", SftpOpenFlags.Write | SftpOpenFlags.Create | SftpOpenFlags.Exclusive, null, cancellationToken);
        try
        {
            await client.WriteAsync(handle, 5, "world"u8.ToArray(), cancellationToken);
            await client.WriteAsync(handle, 0, "hello"u8.ToArray(), cancellationToken);
            await client.FsyncAsync(handle, cancellationToken);
            Assert.That((await client.FStatAsync(handle, cancellationToken)).Size, Is.EqualTo(10ul));
        }
        finally
        {
            await client.CloseAsync(handle, cancellationToken);
        }
        Assert.That(File.ReadAllText(_dir + "/w"), Is.EqualTo("helloworld"));
        Assert.That(async () => await client.OpenAsync(_dir + "/w", SftpOpenFlags.Write | SftpOpenFlags.Create | SftpOpenFlags.Exclusive, null, cancellationToken),
            Throws.InstanceOf<SftpStatusException>().With.Property(nameof(SftpStatusException.Code)).EqualTo(SftpStatusCode.Failure));
    }

    [Test]
    public async Task Stat_readdir_mkdir_rename_posix_rename_setstat_remove_and_rmdir_work(CancellationToken cancellationToken)
    {
        await using var client = await ConnectAsync(cancellationToken);
        await client.MakeDirectoryAsync(_dir + "/sub", null, cancellationToken);
        await client.WriteAllBytesAsync(_dir + "/sub/a.txt", "abc"u8.ToArray(), cancellationToken);
        await client.WriteAllBytesAsync(_dir + "/sub/b.txt", "defg"u8.ToArray(), cancellationToken);
        File.CreateSymbolicLink(_dir + "/sub/link", _dir + "/sub/a.txt");

        var entries = (await client.ReadDirectoryAsync(_dir + "/sub", cancellationToken)).OrderBy(e => e.FileName, StringComparer.Ordinal).ToList();
        Assert.That(entries.Select(e => e.FileName), Is.EqualTo(new[] { "a.txt", "b.txt", "link" }));
        Assert.That(entries[0].Attributes.IsRegularFile, Is.True);
        Assert.That(entries[1].Attributes.Size, Is.EqualTo(4ul));
        Assert.That(entries[2].Attributes.IsSymbolicLink, Is.True, "readdir reports links as lstat does");

        var stat = await client.StatAsync(_dir + "/sub", cancellationToken);
        Assert.That(stat.IsDirectory, Is.True);
        Assert.That((await client.StatAsync(_dir + "/sub/link", cancellationToken)).Size, Is.EqualTo(3ul));
        Assert.That((await client.LStatAsync(_dir + "/sub/link", cancellationToken)).IsSymbolicLink, Is.True);

        await client.SetStatAsync(_dir + "/sub/a.txt", new SftpAttributes { AccessTime = 1_000_000_000, ModifiedTime = 1_600_000_000 }, cancellationToken);
        Assert.That((await client.StatAsync(_dir + "/sub/a.txt", cancellationToken)).ModifiedAt, Is.EqualTo(DateTimeOffset.FromUnixTimeSeconds(1_600_000_000)));

        // The v3 rename refuses an existing target; posix-rename replaces it.
        Assert.That(async () => await client.RenameAsync(_dir + "/sub/a.txt", _dir + "/sub/b.txt", cancellationToken), Throws.InstanceOf<SftpStatusException>());
        await client.RenameAsync(_dir + "/sub/a.txt", _dir + "/sub/c.txt", cancellationToken);
        await client.PosixRenameAsync(_dir + "/sub/c.txt", _dir + "/sub/b.txt", cancellationToken);
        Assert.That(File.ReadAllText(_dir + "/sub/b.txt"), Is.EqualTo("abc"));
        Assert.That(File.Exists(_dir + "/sub/c.txt"), Is.False);

        Assert.That(async () => await client.RemoveDirectoryAsync(_dir + "/sub", cancellationToken), Throws.InstanceOf<SftpStatusException>(), "not empty");
        await client.RemoveAsync(_dir + "/sub/b.txt", cancellationToken);
        await client.RemoveAsync(_dir + "/sub/link", cancellationToken);
        await client.RemoveDirectoryAsync(_dir + "/sub", cancellationToken);
        Assert.That(Directory.Exists(_dir + "/sub"), Is.False);
    }

    [Test]
    public async Task A_missing_file_gives_RemoteFileNotFoundException(CancellationToken cancellationToken)
    {
        await using var client = await ConnectAsync(cancellationToken);
        var missing = _dir + "/nope";
        Assert.That(async () => await client.OpenAsync(missing, SftpOpenFlags.Read, null, cancellationToken), Throws.InstanceOf<RemoteFileNotFoundException>());
        Assert.That(async () => await client.StatAsync(missing, cancellationToken), Throws.InstanceOf<RemoteFileNotFoundException>());
        Assert.That(async () => await client.RemoveAsync(missing, cancellationToken), Throws.InstanceOf<RemoteFileNotFoundException>());
        Assert.That(async () => await client.ReadDirectoryAsync(missing, cancellationToken), Throws.InstanceOf<RemoteFileNotFoundException>());
        Assert.That(async () => await client.PosixRenameAsync(missing, _dir + "/x", cancellationToken), Throws.InstanceOf<RemoteFileNotFoundException>());
        // The session is still usable after errors.
        Assert.That((await client.StatAsync(_dir, cancellationToken)).IsDirectory, Is.True);
    }

    [Test]
    public async Task The_Try_forms_answer_null_for_a_missing_path_and_still_throw_other_refusals(CancellationToken cancellationToken)
    {
        await using var client = await ConnectAsync(cancellationToken);
        File.WriteAllText(_dir + "/here.txt", "x");
        var create = SftpOpenFlags.Write | SftpOpenFlags.Create;

        Assert.That(await client.TryLStatAsync(_dir + "/nope", cancellationToken), Is.Null);
        Assert.That(await client.TryOpenAsync(_dir + "/no-such-dir/new.txt", create, null, cancellationToken), Is.Null,
            "a file created in a missing directory");
        Assert.That((await client.TryLStatAsync(_dir + "/here.txt", cancellationToken))?.Size, Is.EqualTo(1ul));
        var handle = await client.TryOpenAsync(_dir + "/new.txt", create, null, cancellationToken);
        Assert.That(handle, Is.Not.Null);
        await client.CloseAsync(handle!, cancellationToken);
        Assert.That(File.Exists(_dir + "/new.txt"), Is.True);
        // A directory opened for writing is refused (EISDIR), even to root: not "no such file", so still an exception.
        Assert.That(async () => await client.TryOpenAsync(_dir, SftpOpenFlags.Write, null, cancellationToken),
            Throws.InstanceOf<SftpStatusException>());
    }

    [Test]
    public async Task Many_concurrent_requests_from_many_threads_are_answered_by_id(CancellationToken cancellationToken)
    {
        await using var client = await ConnectAsync(cancellationToken);
        for (var i = 0; i < 20; i++) await File.WriteAllTextAsync($"{_dir}/f{i}", new string('x', i), cancellationToken);

        var sizes = await Task.WhenAll(Enumerable.Range(0, 400).Select(i => Task.Run(async () =>
            (i % 20, (await client.StatAsync($"{_dir}/f{i % 20}", cancellationToken)).Size), cancellationToken)));

        Assert.That(sizes.All(s => s.Size == (ulong)s.Item1), Is.True);
    }

    [Test]
    public async Task A_wrong_key_is_refused_with_ssh_s_Permission_denied(CancellationToken cancellationToken)
    {
        var error = Assert.ThrowsAsync<SshConnectionException>(async () =>
            await SftpClient.ConnectAsync(Sshd.ConnectionOptions(identityFile: Sshd.WrongIdentityFile), cancellationToken));
        Assert.That(error!.Message, Does.Contain("Permission denied"));
        Assert.That(error.IsTransient, Is.False);
    }

    [Test]
    public async Task An_unknown_host_key_is_refused_under_strict_checking(CancellationToken cancellationToken)
    {
        var error = Assert.ThrowsAsync<SshConnectionException>(async () =>
            await SftpClient.ConnectAsync(Sshd.ConnectionOptions(knownHostsFile: Sshd.EmptyKnownHostsFile), cancellationToken));
        Assert.That(error!.Message, Does.Contain("Host key verification failed"));
        Assert.That(error.IsTransient, Is.False);
        await Task.CompletedTask;
    }

    [Test]
    public async Task Accept_new_adds_an_unknown_host_key_to_the_known_hosts_file(CancellationToken cancellationToken)
    {
        var knownHosts = _dir + "/known_hosts";
        File.WriteAllText(knownHosts, "");
        await using (var client = await SftpClient.ConnectAsync(Sshd.ConnectionOptions(knownHostsFile: knownHosts) with { KnownHostsPolicy = KnownHostsPolicy.AcceptNew }, cancellationToken))
        {
            Assert.That(client.ServerVersion, Is.EqualTo(3u));
        }
        Assert.That(File.ReadAllText(knownHosts), Does.Contain("ssh-ed25519"));
    }

    [Test]
    public async Task Requests_after_dispose_fail_with_a_connection_error(CancellationToken cancellationToken)
    {
        var client = await ConnectAsync(cancellationToken);
        await client.DisposeAsync();
        Assert.That(async () => await client.StatAsync(_dir, cancellationToken), Throws.InstanceOf<SshConnectionException>());
    }

    [Test]
    public void A_missing_ssh_executable_is_a_DriverException(CancellationToken cancellationToken)
    {
        Assert.That(async () => await SftpClient.ConnectAsync(Sshd.ConnectionOptions() with { SshPath = "/nonexistent/ssh" }, cancellationToken),
            Throws.InstanceOf<DriverException>());
    }

    [Test]
    public async Task A_cancelled_wait_ends_at_once_and_the_late_reply_does_not_disturb_the_next_request(CancellationToken cancellationToken)
    {
        await using var relay = new TcpRelay(Sshd.Port);
        var knownHosts = Path.Combine(_dir, "known_hosts");
        await File.WriteAllTextAsync(knownHosts, Sshd.KnownHostsLine(relay.Port) + "\n", cancellationToken);
        await using var client = await SftpClient.ConnectAsync(Sshd.ConnectionOptions(knownHostsFile: knownHosts) with { Port = relay.Port }, cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(_dir, "a.txt"), "abc", cancellationToken);

        relay.Freeze();
        using var cancel = new CancellationTokenSource();
        var waiting = client.StatAsync(Path.Combine(_dir, "a.txt"), cancel.Token);
        await Task.Delay(200, cancellationToken);
        Assert.That(waiting.IsCompleted, Is.False, "no reply can come while the relay is frozen");
        cancel.Cancel();
        var stopwatch = Stopwatch.StartNew();
        Assert.CatchAsync<OperationCanceledException>(async () => await waiting);
        Assert.That(stopwatch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(2)), "the wait ends when cancelled, not when the reply comes");

        relay.Thaw();
        Assert.That((await client.StatAsync(_dir, cancellationToken)).IsDirectory, Is.True, "the next request gets its own reply");
        Assert.That((await client.StatAsync(Path.Combine(_dir, "a.txt"), cancellationToken)).Size, Is.EqualTo(3));
    }
}
