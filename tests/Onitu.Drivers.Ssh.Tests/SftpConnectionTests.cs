using System.Diagnostics;
using Onitu.Drivers.Ssh.Sftp;

namespace Onitu.Drivers.Ssh.Tests;

/// <summary>The ssh command line, the wire format, and what happens when the connection breaks.</summary>
[TestFixture]
[CancelAfter(30_000)]
public class SftpConnectionTests
{
    private static SshdFixture Sshd => SshdSetup.Sshd;

    [Test]
    public void The_ssh_command_line_runs_the_sftp_subsystem_in_batch_mode()
    {
        var options = new SftpConnectionOptions
        {
            Host = "example.org", Port = 2222, User = "me", IdentityFile = "/k", KnownHostsFile = "/kh",
            KnownHostsPolicy = KnownHostsPolicy.AcceptNew, ExtraArguments = ["-o", "Compression=yes"],
        };
        Assert.That(options.BuildArguments(), Is.EqualTo(new[]
        {
            "-p", "2222", "-l", "me", "-i", "/k", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new",
            "-o", "UserKnownHostsFile=/kh", "-o", "Compression=yes",
            "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", "-o", "ConnectTimeout=20", "-T", "-x", "-a",
            "-s", "example.org", "sftp",
        }));
        Assert.That(new SftpConnectionOptions { Host = "h" }.BuildArguments(), Does.Contain("StrictHostKeyChecking=yes"));
    }

    [Test]
    public void The_users_ssh_options_come_before_the_drivers_tunable_defaults()
    {
        // ssh keeps the first value it reads for an option: the user's keep-alive must precede the driver's.
        var arguments = new SftpConnectionOptions { Host = "h", ExtraArguments = ["-o", "ServerAliveInterval=2"] }.BuildArguments().ToList();
        Assert.That(arguments.IndexOf("ServerAliveInterval=2"), Is.LessThan(arguments.IndexOf("ServerAliveInterval=5")));
        Assert.That(arguments.IndexOf("ServerAliveInterval=2"), Is.GreaterThan(arguments.IndexOf("StrictHostKeyChecking=yes")),
            "host-key checking is not the user's to loosen through ssh-options");
    }

    [TestCase("-oProxyCommand=evil")]
    [TestCase("")]
    public void A_host_that_ssh_would_read_as_an_option_is_refused(string host) =>
        Assert.That(() => new SftpConnectionOptions { Host = host }.BuildArguments(), Throws.ArgumentException);

    [Test]
    public void Attributes_round_trip_through_the_wire_format()
    {
        var attributes = new SftpAttributes
        {
            Size = 1UL << 40, Uid = 1, Gid = 2, Permissions = 0x81A4, AccessTime = 3, ModifiedTime = 4,
            Extended = [new("a@b", "c")],
        };
        var packet = new SftpPacketBuilder(SftpPacketType.Attrs);
        attributes.WriteTo(packet);
        var reader = new SftpPacketReader(packet.Finish().Span[5..]);

        var read = SftpAttributes.ReadFrom(ref reader);

        Assert.That(read with { Extended = [] }, Is.EqualTo(attributes with { Extended = [] }));
        Assert.That(read.Extended, Is.EqualTo(attributes.Extended));
        Assert.That(read.IsRegularFile, Is.True);
        Assert.That(reader.Remaining, Is.Zero);
    }

    [Test]
    public void A_truncated_packet_is_a_ServiceException()
    {
        Assert.That(() =>
        {
            var reader = new SftpPacketReader([0, 0, 0, 9, 1]);
            reader.ReadString();
        }, Throws.InstanceOf<ServiceException>());
    }

    [Test]
    public async Task When_ssh_dies_requests_fail_with_a_transient_connection_error(CancellationToken cancellationToken)
    {
        await using var client = await SftpClient.ConnectAsync(Sshd.ConnectionOptions(), cancellationToken);
        Process.GetProcessById(client.SshProcessId).Kill();

        var error = Assert.ThrowsAsync<SshConnectionException>(async () =>
        {
            // The first request may be written before the loss is noticed; it still fails rather than hangs.
            for (var i = 0; i < 100; i++)
            {
                await client.StatAsync("/", cancellationToken);
                await Task.Delay(10, cancellationToken);
            }
        });
        Assert.That(error!.IsTransient, Is.True);
        Assert.That(error.Message, Does.Contain("127.0.0.1"));
    }

    [Test]
    public async Task A_cancelled_wait_leaves_the_session_usable(CancellationToken cancellationToken)
    {
        await using var client = await SftpClient.ConnectAsync(Sshd.ConnectionOptions(), cancellationToken);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        Assert.That(async () => await client.StatAsync("/", cancelled.Token), Throws.InstanceOf<OperationCanceledException>());
        var buffer = new byte[1 << 20];
        var path = Path.Combine(Sshd.DataDirectory, "cancel-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllBytesAsync(path, buffer, cancellationToken);
        var handle = await client.OpenAsync(path, SftpOpenFlags.Read, null, cancellationToken);
        try
        {
            using var soon = new CancellationTokenSource(TimeSpan.FromMilliseconds(1));
            try { await client.ReadAsync(handle, 0, buffer, soon.Token); }
            catch (OperationCanceledException) { /* expected most of the time */ }
            Assert.That(await client.ReadAsync(handle, 0, buffer, cancellationToken), Is.EqualTo(buffer.Length));
        }
        finally
        {
            await client.CloseAsync(handle, cancellationToken);
        }
        Assert.That((await client.StatAsync("/", cancellationToken)).IsDirectory, Is.True);
    }
}
