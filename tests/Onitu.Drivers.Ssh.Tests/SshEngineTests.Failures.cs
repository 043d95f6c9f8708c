using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Onitu.Drivers.Toolkit;

namespace Onitu.Drivers.Ssh.Tests;

/// <summary>
/// Refusals and stalls through a TCP relay in front of the fixture's sshd, which counts the connections ssh makes
/// and can freeze the link: a refused key or host key is tried once, never in a loop; a stall is reported within the
/// keep-alive time the user's ssh-options set, and the service recovers when the link is back.
/// </summary>
public partial class SshEngineTests
{
    private static string KnownHostsThrough(EngineScene scene, string line)
    {
        var file = Path.Combine(scene.Root, "relay_known_hosts");
        File.WriteAllText(file, line + "\n");
        return file;
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task A_refused_key_is_tried_once_and_reported_without_a_stack_trace(CancellationToken cancellationToken)
    {
        var sshd = SshdSetup.Sshd;
        await using var relay = new TcpRelay(sshd.Port);
        await using var scene = new EngineScene();
        var engine = scene.Create(EngineScene.LocalService("A") + EngineScene.SshService("Remote", sshd, scene.RemoteRoot,
            identityFile: sshd.WrongIdentityFile, knownHostsFile: KnownHostsThrough(scene, sshd.KnownHostsLine(relay.Port)), port: relay.Port));

        await engine.StartAsync(cancellationToken);
        await scene.EventuallyAsync(() => scene.Status("Remote") is { State: ServiceState.Failing, Reason: { } reason } && reason.Contains("Permission denied", StringComparison.Ordinal),
            "Remote to be failing because its key is refused", cancellationToken);
        // The engine's backoff here is 100 ms to 1 s: a retry loop would have knocked several times by now.
        await Task.Delay(TimeSpan.FromSeconds(4), cancellationToken);

        var errors = scene.Logs.Entries.Where(e => e.Level >= LogLevel.Error && e.Value("Service") == "Remote").ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(relay.Connections, Is.EqualTo(1), "ssh connected once: a refused key is not tried again");
            Assert.That(scene.Status("Remote").State, Is.EqualTo(ServiceState.Failing));
            Assert.That(errors, Has.Count.EqualTo(1), "one error line, not one per retry");
            Assert.That(errors.Select(e => e.Exception), Has.All.Null, "no stack trace at error level (it is logged at debug)");
            Assert.That(errors[0].Message, Does.Contain("Permission denied").And.Contain("not retried"));
        }
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task A_changed_host_key_is_tried_once_and_reported_in_its_meaningful_lines(CancellationToken cancellationToken)
    {
        var sshd = SshdSetup.Sshd;
        await using var relay = new TcpRelay(sshd.Port);
        await using var scene = new EngineScene();
        var engine = scene.Create(EngineScene.LocalService("A") + EngineScene.SshService("Remote", sshd, scene.RemoteRoot,
            knownHostsFile: KnownHostsThrough(scene, sshd.ChangedKnownHostsLine(relay.Port)), port: relay.Port));

        await engine.StartAsync(cancellationToken);
        await scene.EventuallyAsync(() => scene.Status("Remote") is { State: ServiceState.Failing, Reason: { } reason } && reason.Contains("Host key verification failed", StringComparison.Ordinal),
            "Remote to be failing because the host key changed", cancellationToken);
        await Task.Delay(TimeSpan.FromSeconds(4), cancellationToken);

        var reason = scene.Status("Remote").Reason!;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(relay.Connections, Is.EqualTo(1), "ssh connected once: a changed host key is not tried again");
            Assert.That(reason, Does.Contain("REMOTE HOST IDENTIFICATION HAS CHANGED").And.Contain("SHA256:").And.Contain("relay_known_hosts"),
                "the reason keeps what happened, the key's fingerprint and where the old key is");
            Assert.That(reason, Does.Not.Contain("@@@").And.Not.Contain("IT IS POSSIBLE").And.Not.Contain("eavesdropping"), "the banner's boilerplate is gone");
            Assert.That(reason, Does.Not.Contain("\n"), "one line");
        }
    }

    [Test]
    [CancelAfter(180_000)]
    public async Task A_stalled_link_is_reported_failing_within_the_users_keepalive_time_and_recovers(CancellationToken cancellationToken)
    {
        var sshd = SshdSetup.Sshd;
        await using var relay = new TcpRelay(sshd.Port);
        await using var scene = new EngineScene();
        // The user's keep-alives (1 s, 2 unanswered) must win over the driver's defaults (timeout-s 20: 5 s, 3). ssh's
        // own log level, as a user's ssh has it (the fixture's quiet LogLevel=ERROR would hide ssh's "Timeout, server
        // not responding", and the stall would then be recognised only if a poll happened to be waiting at that moment).
        var engine = scene.Create(EngineScene.LocalService("A") + EngineScene.SshService("Remote", sshd, scene.RemoteRoot,
            knownHostsFile: KnownHostsThrough(scene, sshd.KnownHostsLine(relay.Port)), port: relay.Port,
            sshOptions: "-o ServerAliveInterval=1 -o ServerAliveCountMax=2 -o LogLevel=INFO"));
        await engine.StartAsync(cancellationToken);
        scene.Write("A", "docs/before.txt", "before the stall");
        var remote = Path.Combine(scene.RemoteRoot, "docs");
        await scene.EventuallyAsync(() => ReadOrNull(Path.Combine(remote, "before.txt")) == "before the stall", "before.txt to reach the server", cancellationToken);

        relay.Freeze();
        var frozenAt = System.Diagnostics.Stopwatch.StartNew();
        await scene.EventuallyAsync(() => scene.Status("Remote") is { State: ServiceState.Failing, Reason: { } reason } && reason.Contains("stalled", StringComparison.Ordinal),
            "Remote to be reported failing because the link stalled", cancellationToken, seconds: 30);
        var noticed = frozenAt.Elapsed;
        Assert.That(noticed, Is.LessThan(TimeSpan.FromSeconds(12)), "the stall is noticed within the user's keep-alive time (3 s), not the driver's default (20 s)");

        scene.Write("A", "docs/during.txt", "written during the stall");
        // Reconnecting through a frozen link fails in its own time; the service stays failing meanwhile.
        await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken);
        Assert.That(scene.Status("Remote").State, Is.Not.EqualTo(ServiceState.Running), "failing while the stall lasts");
        Assert.That(ReadOrNull(Path.Combine(remote, "during.txt")), Is.Null);

        relay.Thaw();
        await scene.EventuallyAsync(() => ReadOrNull(Path.Combine(remote, "during.txt")) == "written during the stall",
            "during.txt to reach the server once the link is back", cancellationToken, seconds: 60);
        await scene.EventuallyAsync(() => scene.Status("Remote").State == ServiceState.Running, "Remote to be running again", cancellationToken);
        TestContext.Out.WriteLine($"stall noticed after {noticed.TotalSeconds:0.0} s; {relay.Connections} connections through the relay");
    }

    [Test]
    [CancelAfter(240_000)]
    public async Task With_the_default_timeout_a_stall_in_the_middle_of_an_upload_is_noticed_within_30_s_and_the_upload_resumes(CancellationToken cancellationToken)
    {
        var sshd = SshdSetup.Sshd;
        await using var relay = new TcpRelay(sshd.Port);
        await using var scene = new EngineScene();
        var engine = scene.Create(EngineScene.LocalService("A") + EngineScene.SshService("Remote", sshd, scene.RemoteRoot,
            knownHostsFile: KnownHostsThrough(scene, sshd.KnownHostsLine(relay.Port)), port: relay.Port),
            options => options.BandwidthLimit = 4 * MiB);
        await engine.StartAsync(cancellationToken);
        await scene.EventuallyAsync(() => scene.Status("Remote").State == ServiceState.Running, "Remote to be running", cancellationToken);
        var content = RandomNumberGenerator.GetBytes(24 * MiB);
        scene.Write("A", "docs/big.bin", content);
        var remoteDocs = Path.Combine(scene.RemoteRoot, "docs");
        await scene.EventuallyAsync(() => Directory.Exists(remoteDocs)
                && Directory.GetFiles(remoteDocs, TempNames.Prefix + "*.part").Any(f => new FileInfo(f).Length >= 3 * MiB),
            "the upload to be under way", cancellationToken);

        relay.Freeze();
        var frozenAt = System.Diagnostics.Stopwatch.StartNew();
        await scene.EventuallyAsync(() => scene.Status("Remote") is { State: ServiceState.Failing, Reason: { } reason } && reason.Contains("stalled", StringComparison.Ordinal),
            "Remote to be reported failing because the link stalled", cancellationToken, seconds: 60);
        var noticed = frozenAt.Elapsed;
        Assert.That(noticed, Is.LessThanOrEqualTo(TimeSpan.FromSeconds(30)), "a stall is noticed within 30 s with the default timeout-s");
        Assert.That(File.Exists(Path.Combine(scene.RemoteRoot, "docs", "big.bin")), Is.False);

        relay.Thaw();
        await scene.EventuallyAsync(() => scene.Events<FileSynced>().Any(e => e.Service == "Remote" && e.Path == "big.bin"), "big.bin to reach the server", cancellationToken, seconds: 120);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(File.ReadAllBytes(Path.Combine(scene.RemoteRoot, "docs", "big.bin")), Is.EqualTo(content));
            Assert.That(scene.Events<FileSynced>().Single(e => e.Service == "Remote" && e.Path == "big.bin").Resumed, Is.True, "the upload resumed where the stall cut it");
        }
        TestContext.Out.WriteLine($"stall noticed after {noticed.TotalSeconds:0.0} s with the default timeout-s (20)");
    }
}
