using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Onitu.Drivers.LocalStorage;

namespace Onitu.Drivers.Ssh.Tests;

/// <summary>
/// The ssh driver inside a real <see cref="SyncEngine"/> (real SQLite, real local_storage services, a real sshd on
/// 127.0.0.1) when things go wrong: refused credentials, an unknown host key, and sshd dying in the middle of a
/// transfer. Tests that kill sshd start a private one so the assembly's shared server stays up for the others.
/// </summary>
[TestFixture]
public partial class SshEngineTests
{
    private const int MiB = 1024 * 1024;

    // ---- refused before the first byte ---------------------------------------------------------------------

    [Test]
    [CancelAfter(180_000)]
    public async Task A_wrong_key_marks_the_ssh_service_failing_with_a_clear_reason_while_the_local_services_keep_syncing(CancellationToken cancellationToken)
    {
        var sshd = SshdSetup.Sshd;
        await using var scene = new EngineScene();
        var engine = scene.Create(
            EngineScene.LocalService("A") + EngineScene.LocalService("B")
            + EngineScene.SshService("Remote", sshd, scene.RemoteRoot, identityFile: sshd.WrongIdentityFile));

        await engine.StartAsync(cancellationToken);
        await scene.EventuallyAsync(() => scene.Status("Remote") is { State: ServiceState.Failing, Reason: { } reason } && reason.Contains("Permission denied", StringComparison.Ordinal),
            "Remote to be failing because its key is refused", cancellationToken);

        // The local services do not wait for the broken one.
        scene.Write("A", "docs/hello.txt", "written into A while Remote is failing");
        await scene.EventuallyAsync(() => scene.ReadOrNull("B", "docs/hello.txt") == "written into A while Remote is failing",
            "hello.txt to reach B", cancellationToken);

        // Still failing: retrying cannot fix a refused key. (Between two attempts the service is briefly Scanning,
        // so wait for the Failing state rather than expect to catch it at one instant.)
        ServiceStatus? status = null;
        await scene.EventuallyAsync(() => (status = scene.Status("Remote")).State == ServiceState.Failing, "Remote to be failing again", cancellationToken);
        var privateKey = File.ReadAllText(sshd.WrongIdentityFile);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(status!.Reason, Does.Contain("Permission denied").And.Contain("127.0.0.1"), "the reason says what ssh said, and about which server");
            Assert.That(scene.Events<ServiceStateChanged>(), Has.Some.Matches<ServiceStateChanged>(e =>
                e.Service == "Remote" && e.State == ServiceState.Failing && e.Reason!.Contains("Permission denied", StringComparison.Ordinal)),
                "the failure is announced as an event of service Remote");
            Assert.That(scene.Events<ServiceStateChanged>().Where(e => e.Service == "Remote").Select(e => e.State), Has.None.EqualTo(ServiceState.Running));
            Assert.That(scene.Logs.Entries, Has.Some.Matches<LogEntry>(e =>
                e.Level == LogLevel.Error && e.Value("Service") == "Remote" && e.Message.Contains("Permission denied", StringComparison.Ordinal)),
                "the error log line names the service and the reason");
            Assert.That(scene.Status("A").State, Is.EqualTo(ServiceState.Running));
            Assert.That(scene.Status("B").State, Is.EqualTo(ServiceState.Running));
            Assert.That(File.Exists(Path.Combine(scene.RemoteRoot, "docs", "hello.txt")), Is.False, "nothing reached the server");

            // Neither the reason nor any log line (exceptions included) leaks the private key.
            var reported = string.Join("\n", scene.Events<ServiceStateChanged>().Select(e => e.Reason))
                + "\n" + string.Join("\n", scene.Logs.Entries.Select(e => e.Message + "\n" + e.Exception));
            var secretLines = privateKey.Split('\n', StringSplitOptions.TrimEntries).Where(l => l.Length >= 16 && !l.StartsWith("-----", StringComparison.Ordinal)).ToList();
            Assert.That(secretLines, Is.Not.Empty, "the key file has a body to look for");
            foreach (var line in secretLines)
                Assert.That(reported, Does.Not.Contain(line), "a line of the private key appears in the reason or the logs");
        }
    }

    [Test]
    [CancelAfter(180_000)]
    public async Task An_unknown_host_key_under_the_strict_policy_is_refused_and_not_learned(CancellationToken cancellationToken)
    {
        var sshd = SshdSetup.Sshd;
        await using var scene = new EngineScene();
        // A private empty known_hosts (the fixture's is shared with other tests): nothing may be written into it.
        var knownHosts = Path.Combine(scene.Root, "known_hosts");
        File.WriteAllText(knownHosts, "");
        var engine = scene.Create(EngineScene.LocalService("A") + EngineScene.SshService("Remote", sshd, scene.RemoteRoot, knownHostsFile: knownHosts));

        await engine.StartAsync(cancellationToken);
        await scene.EventuallyAsync(() => scene.Status("Remote") is { State: ServiceState.Failing, Reason: { } reason } && reason.Contains("Host key verification failed", StringComparison.Ordinal),
            "Remote to be failing because the host key is unknown", cancellationToken);
        // A refused host key is not retried (it cannot fix itself): give a retry loop time to show, then look.
        await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken);
        Assert.That(scene.Status("Remote") is { State: ServiceState.Failing, Reason: { } again } && again.Contains("Host key verification failed", StringComparison.Ordinal),
            "Remote stays failing for the same reason");
        Assert.That(scene.Logs.Entries.Count(e => e.Level == LogLevel.Error && e.Value("Service") == "Remote"), Is.EqualTo(1),
            "one failure, not a retry loop");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(new FileInfo(knownHosts).Length, Is.Zero, "nothing is written into known_hosts under the strict policy");
            Assert.That(Directory.GetFiles(scene.Root, "known_hosts*").Select(Path.GetFileName), Is.EqualTo(new[] { "known_hosts" }), "no known_hosts.old either");
            Assert.That(scene.Events<ServiceStateChanged>().Where(e => e.Service == "Remote").Select(e => e.State), Has.None.EqualTo(ServiceState.Running));
            Assert.That(Directory.Exists(Path.Combine(scene.RemoteRoot, "docs")), Is.False, "the driver never got as far as preparing its folder");
        }
    }

    [Test]
    [CancelAfter(180_000)]
    public async Task The_same_unknown_host_key_under_accept_new_is_learned_which_shows_the_strict_check_can_fail(CancellationToken cancellationToken)
    {
        // The counterpart of the test above: with accept-new the very same setup connects and writes the key, so an
        // empty file after the strict run is the policy's doing, not a file the driver never touches anyway.
        var sshd = SshdSetup.Sshd;
        await using var scene = new EngineScene();
        var knownHosts = Path.Combine(scene.Root, "known_hosts");
        File.WriteAllText(knownHosts, "");
        var engine = scene.Create(EngineScene.LocalService("A")
            + EngineScene.SshService("Remote", sshd, scene.RemoteRoot, knownHostsFile: knownHosts, extraOptions: "known-hosts-policy: accept-new"));

        await engine.StartAsync(cancellationToken);
        await scene.EventuallyAsync(() => scene.Status("Remote").State == ServiceState.Running, "Remote to be running", cancellationToken);

        Assert.That(File.ReadAllText(knownHosts), Does.Contain($"[127.0.0.1]:{sshd.Port}"));
    }

    // ---- sshd dies in the middle of a transfer ----------------------------------------------------------------

    [Test]
    [CancelAfter(300_000)]
    public async Task An_upload_interrupted_by_sshd_dying_resumes_at_its_saved_offset_once_sshd_is_back(CancellationToken cancellationToken)
    {
        await using var sshd = await SshdFixture.StartAsync();
        await using var scene = new EngineScene();
        var content = RandomBytes(32 * MiB);
        scene.Write("A", "docs/big.bin", content);
        var engine = scene.Create(EngineScene.LocalService("A") + EngineScene.SshService("Remote", sshd, scene.RemoteRoot), Throttled);
        var remoteDocs = Path.Combine(scene.RemoteRoot, "docs");

        await engine.StartAsync(cancellationToken);
        await InterruptOnceAsync(scene, sshd, remoteDocs, receiver: "Remote", cancellationToken);

        await scene.EventuallyAsync(() => scene.Events<FileSynced>().Any(e => e.Service == "Remote" && e.Path == "big.bin"), "big.bin to reach Remote", cancellationToken);
        await engine.WaitUntilIdleAsync(cancellationToken);
        AssertResumedIntact(scene, Path.Combine(remoteDocs, "big.bin"), content, receiver: "Remote");
    }

    [Test]
    [CancelAfter(300_000)]
    public async Task A_download_interrupted_by_sshd_dying_resumes_at_its_saved_offset_once_sshd_is_back(CancellationToken cancellationToken)
    {
        // The engine resumes any chunked transfer whose target can restart an upload: local_storage can, and the
        // ssh driver reads by offset, so a download resumes just like an upload.
        await using var sshd = await SshdFixture.StartAsync();
        await using var scene = new EngineScene();
        var content = RandomBytes(32 * MiB, seed: 2);
        Directory.CreateDirectory(Path.Combine(scene.RemoteRoot, "docs"));
        File.WriteAllBytes(Path.Combine(scene.RemoteRoot, "docs", "big.bin"), content);
        var engine = scene.Create(EngineScene.LocalService("A") + EngineScene.SshService("Remote", sshd, scene.RemoteRoot), Throttled);
        var localDocs = scene.PathOf("A", "docs");

        await engine.StartAsync(cancellationToken);
        await InterruptOnceAsync(scene, sshd, localDocs, receiver: "A", cancellationToken);

        await scene.EventuallyAsync(() => scene.Events<FileSynced>().Any(e => e.Service == "A" && e.Path == "big.bin"), "big.bin to reach A", cancellationToken);
        await engine.WaitUntilIdleAsync(cancellationToken);
        AssertResumedIntact(scene, Path.Combine(localDocs, "big.bin"), content, receiver: "A");
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task Small_files_download_under_a_bandwidth_limit_through_asynchronous_reads_only(CancellationToken cancellationToken)
    {
        // Small files go whole-file: the SFTP read stream, wrapped by the bandwidth limit, copied by local_storage.
        // The SFTP stream has no synchronous read (it would block a pool thread per round trip): the copy must be
        // asynchronous all the way, or every file fails.
        await using var sshd = await SshdFixture.StartAsync();
        await using var scene = new EngineScene();
        Directory.CreateDirectory(Path.Combine(scene.RemoteRoot, "docs"));
        var contents = Enumerable.Range(0, 12).Select(i => RandomBytes(10_000 + i * 997, seed: 40 + i)).ToArray();
        for (var i = 0; i < contents.Length; i++)
            File.WriteAllBytes(Path.Combine(scene.RemoteRoot, "docs", $"small-{i}.bin"), contents[i]);
        var engine = scene.Create(EngineScene.LocalService("A") + EngineScene.SshService("Remote", sshd, scene.RemoteRoot),
            o => o.BandwidthLimit = 512 * 1024);

        var report = await engine.SyncOnceAsync(cancellationToken);

        Assert.That(report.PendingJobs, Is.Zero, string.Join("\n", scene.Logs.Entries.Select(e => e.ToString())));
        for (var i = 0; i < contents.Length; i++)
            Assert.That(File.ReadAllBytes(Path.Combine(scene.PathOf("A", "docs"), $"small-{i}.bin")), Is.EqualTo(contents[i]), $"small-{i}.bin");
    }

    /// <summary>
    /// 1 MiB chunks at 4 MiB/s: the 32 MiB file takes 8 s, so there are seconds, not milliseconds, between seeing
    /// the partial file pass 4 MiB and the transfer's end, to kill sshd in between.
    /// </summary>
    private static void Throttled(SyncEngineOptions options)
    {
        options.ChunkSize = MiB;
        options.BandwidthLimit = 4 * MiB;
    }

    private static readonly long InterruptAfter = 4L * MiB;

    /// <summary>
    /// Waits until the receiver's partial file is past <see cref="InterruptAfter"/>, kills sshd with its sessions,
    /// waits until the engine has seen the transfer fail, then restarts sshd.
    /// </summary>
    private static async Task InterruptOnceAsync(EngineScene scene, SshdFixture sshd, string receiverDirectory, string receiver, CancellationToken cancellationToken)
    {
        // Past 4 MiB (strictly) means a chunk at offset 4 MiB is being written, which the engine only starts after
        // it saved the offset 4 MiB: a resume must start there or later.
        await scene.EventuallyAsync(() => PartialFiles(receiverDirectory).Any(f => f.Length > InterruptAfter),
            $"the partial file on {receiver} to pass {InterruptAfter} bytes", cancellationToken);
        Assert.That(scene.Events<FileSynced>(), Is.Empty, "the transfer must still be running when sshd is killed");

        var sessions = sshd.SessionProcessIds();
        Assert.That(sessions, Is.Not.Empty, "the engine's connection is served by sshd's session processes");
        await sshd.StopAsync();
        Assert.That(await SshdFixture.AliveAsync(sessions), Is.Empty, "ps still lists sshd session processes after the kill");

        await scene.EventuallyAsync(() => scene.Events<TransferFailed>().Any(e => e.Service == receiver && e.Path == "big.bin" && e.WillRetry),
            "the engine to see the transfer fail and plan a retry", cancellationToken);
        Assert.That(scene.Events<FileSynced>(), Is.Empty, "nothing can complete while sshd is down");
        Assert.That(File.Exists(Path.Combine(receiverDirectory, "big.bin")), Is.False);

        await sshd.RestartAsync();
    }

    private static void AssertResumedIntact(EngineScene scene, string received, byte[] content, string receiver)
    {
        var synced = scene.Events<FileSynced>().Where(e => e.Service == receiver && e.Path == "big.bin").ToList();
        // Log 3003 "Resuming {Folder}:{Path} to {Target} at offset {Offset}".
        var resumes = scene.Logs.Entries.Where(e => e.EventId == 3003 && e.Value("Target") == receiver && e.Value("Path") == "big.bin").ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(received))), Is.EqualTo(Convert.ToHexString(SHA256.HashData(content))),
                "the received file is byte for byte the source");
            Assert.That(PartialFiles(Path.GetDirectoryName(received)!).Select(f => f.Name), Is.Empty, "no temporary file is left behind");
            Assert.That(synced, Has.Count.EqualTo(1));
            Assert.That(synced.Select(e => e.Resumed), Is.All.True, "the completed transfer reports that it resumed");
            Assert.That(resumes, Has.Count.EqualTo(1), "one resume, at the offset saved before sshd died");
            Assert.That(resumes.Select(e => long.Parse(e.Value("Offset")!, CultureInfo.InvariantCulture)),
                Is.All.InRange(InterruptAfter, content.Length - 1L), "the transfer resumed where it stopped, not from zero");
            Assert.That(scene.Engine.GetServiceStatuses().Select(s => s.State), Is.All.EqualTo(ServiceState.Running));
            Assert.That(scene.Engine.GetProgress().PendingJobs, Is.Zero);
        }
    }

    // ---- a failing remote does not block the others ---------------------------------------------------------------

    [Test]
    [CancelAfter(180_000)]
    public async Task A_server_that_goes_away_while_nothing_is_transferred_is_reported_failing_by_the_polls(CancellationToken cancellationToken)
    {
        await using var sshd = await SshdFixture.StartAsync();
        await using var scene = new EngineScene();
        var engine = scene.Create(EngineScene.LocalService("A") + EngineScene.SshService("Remote", sshd, scene.RemoteRoot));
        await engine.StartAsync(cancellationToken);
        await scene.EventuallyAsync(() => scene.Status("Remote").State == ServiceState.Running, "Remote to be running", cancellationToken);

        // No transfer touches Remote: only its polls can notice that the server is gone.
        await sshd.StopAsync();
        await scene.EventuallyAsync(() => scene.Status("Remote") is { State: ServiceState.Failing, Reason: { } reason } && reason.Contains("Connection refused", StringComparison.Ordinal),
            "Remote to be reported failing with ssh's reason", cancellationToken);
        Assert.That(scene.Status("A").State, Is.EqualTo(ServiceState.Running));

        await sshd.RestartAsync();
        await scene.EventuallyAsync(() => scene.Status("Remote").State == ServiceState.Running, "Remote to be running again", cancellationToken);
        File.WriteAllText(Path.Combine(scene.RemoteRoot, "docs", "after.txt"), "written on the server once it is back");
        await scene.EventuallyAsync(() => scene.ReadOrNull("A", "docs/after.txt") == "written on the server once it is back",
            "a file written on the server after the outage to reach A", cancellationToken);
    }

    [Test]
    [CancelAfter(300_000)]
    public async Task While_sshd_is_down_the_local_services_keep_syncing_and_the_ssh_service_catches_up_afterwards(CancellationToken cancellationToken)
    {
        await using var sshd = await SshdFixture.StartAsync();
        await using var scene = new EngineScene();
        var engine = scene.Create(EngineScene.LocalService("A") + EngineScene.LocalService("B") + EngineScene.SshService("Remote", sshd, scene.RemoteRoot));
        var remoteDocs = Path.Combine(scene.RemoteRoot, "docs");

        await engine.StartAsync(cancellationToken);
        scene.Write("A", "docs/before.txt", "before the outage");
        await scene.EventuallyAsync(() => ReadOrNull(Path.Combine(remoteDocs, "before.txt")) == "before the outage" && scene.ReadOrNull("B", "docs/before.txt") == "before the outage",
            "before.txt to reach Remote and B", cancellationToken);

        await sshd.StopAsync();
        scene.Write("A", "docs/outage/from-a.txt", "written into A during the outage");
        scene.Write("B", "docs/outage/from-b.txt", "written into B during the outage");
        await scene.EventuallyAsync(() => scene.ReadOrNull("B", "docs/outage/from-a.txt") == "written into A during the outage"
                && scene.ReadOrNull("A", "docs/outage/from-b.txt") == "written into B during the outage",
            "the files to cross between A and B while sshd is down", cancellationToken);
        // Repeated failed transfers make the engine restart Remote, whose rescan then fails: it is reported failing.
        await scene.EventuallyAsync(() => scene.Status("Remote").State == ServiceState.Failing, "Remote to be reported failing while sshd is down", cancellationToken);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(scene.Status("A").State, Is.EqualTo(ServiceState.Running));
            Assert.That(scene.Status("B").State, Is.EqualTo(ServiceState.Running));
            Assert.That(Directory.Exists(Path.Combine(remoteDocs, "outage")), Is.False, "nothing reached the server while it was down");
        }

        await sshd.RestartAsync();
        await scene.EventuallyAsync(() => scene.Status("Remote").State == ServiceState.Running, "Remote to be running again", cancellationToken);
        await scene.EventuallyAsync(() => ReadOrNull(Path.Combine(remoteDocs, "outage", "from-a.txt")) == "written into A during the outage"
                && ReadOrNull(Path.Combine(remoteDocs, "outage", "from-b.txt")) == "written into B during the outage",
            "Remote to catch up with the outage's files", cancellationToken);
        await engine.WaitUntilIdleAsync(cancellationToken);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(engine.GetServiceStatuses().Select(s => s.State), Is.All.EqualTo(ServiceState.Running));
            Assert.That(engine.GetProgress().PendingJobs, Is.Zero);
            Assert.That(Tree(remoteDocs), Is.EqualTo(Tree(scene.PathOf("A", "docs"))), "Remote holds what A holds");
            Assert.That(Tree(scene.PathOf("B", "docs")), Is.EqualTo(Tree(scene.PathOf("A", "docs"))), "B holds what A holds");
        }
    }

    // ---- helpers ------------------------------------------------------------------------------------------------

    private static byte[] RandomBytes(int size, int seed = 1)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>
    /// The drivers' temporary files: ssh names them <c>.onitu-*</c> beside their targets, local_storage keeps them in
    /// its staging directory (the folder marker <c>.onitu-folder</c> is not one).
    /// </summary>
    private static IEnumerable<FileInfo> PartialFiles(string directory)
    {
        if (!Directory.Exists(directory))
            return [];
        var beside = new DirectoryInfo(directory).EnumerateFiles(".onitu-*").Where(f => f.Name != ".onitu-folder");
        var staging = new DirectoryInfo(Path.Combine(directory, ".onitu-staging"));
        return staging.Exists ? beside.Concat(staging.EnumerateFiles()) : beside;
    }

    private static string? ReadOrNull(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Every file under <paramref name="root"/> with its SHA-256; temporary files excluded.</summary>
    private static SortedDictionary<string, string> Tree(string root)
    {
        var tree = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            if (Path.GetRelativePath(root, file).Split(Path.DirectorySeparatorChar).Any(s => s.StartsWith(".onitu-", StringComparison.Ordinal))) continue;
            tree[Path.GetRelativePath(root, file)] = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file)));
        }
        return tree;
    }

    /// <summary>
    /// One engine over a temporary directory: the setup file, the SQLite state database, the local services' roots
    /// and the ssh services' remote root (sshd runs on this machine, so a local path is a server path), with the
    /// engine's events and log lines recorded.
    /// </summary>
    private sealed class EngineScene : IAsyncDisposable
    {
        private readonly List<SyncEvent> _events = [];
        private SyncEngine? _engine;

        public EngineScene()
        {
            Root = Directory.CreateTempSubdirectory("onitu-ssh-engine-").FullName;
            RemoteRoot = Path.Combine(Root, "remote");
        }

        public string Root { get; }
        public string RemoteRoot { get; }
        public LogCapture Logs { get; } = new();
        public SyncEngine Engine => _engine ?? throw new InvalidOperationException("No engine yet.");

        /// <summary>Seconds per time unit (ONITU_TEST_TIME_UNIT, as in the engine tests), to stretch waits on slow machines.</summary>
        private static double TimeUnit =>
            double.TryParse(Environment.GetEnvironmentVariable("ONITU_TEST_TIME_UNIT"), CultureInfo.InvariantCulture, out var unit) && unit > 0 ? unit : 1;

        public static string LocalService(string name) => $"""
              {name}:
                driver: local_storage
                options:
                  root: {name}
                folders:
                  docs: docs

            """;

        public static string SshService(string name, SshdFixture sshd, string root, string? identityFile = null, string? knownHostsFile = null, string extraOptions = "", int? port = null, string sshOptions = "", string? user = null) => $"""
              {name}:
                driver: ssh
                options:
                  host: 127.0.0.1
                  port: {port ?? sshd.Port}
                  user: "{user ?? sshd.User}"
                  root: "{root}"
                  identity-file: "{identityFile ?? sshd.IdentityFile}"
                  known-hosts-file: "{knownHostsFile ?? sshd.KnownHostsFile}"
                  ssh-options: "{sshOptions}{(sshOptions.Length > 0 ? " " : "")}-F none -o IdentitiesOnly=yes -o IdentityAgent=none -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR"
                  poll-interval-ms: 200
            {(extraOptions.Length == 0 ? "" : "      " + extraOptions + "\n")}    folders:
                  docs: docs

            """;

        public SyncEngine Create(string services, Action<SyncEngineOptions>? configure = null, TimeProvider? clock = null)
        {
            var setupFile = Path.Combine(Root, "setup.yml");
            File.WriteAllText(setupFile, "name: ssh-engine\nfolders:\n  docs: {}\nservices:\n" + services);
            var options = new SyncEngineOptions
            {
                SetupFile = setupFile,
                DatabasePath = Path.Combine(Root, "state.db"),
                ChunkSize = MiB,
                // Short backoff: an outage of a few seconds is retried many times instead of once.
                RetryBaseDelay = TimeSpan.FromMilliseconds(100),
                MaxRetryDelay = TimeSpan.FromSeconds(1),
            };
            configure?.Invoke(options);
            var loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(Logs));
            _engine = SyncEngine.Create(options, [new LocalStorageDriverFactory(), new SshDriverFactory()], loggerFactory, clock);
            _engine.EventRaised += (_, e) => { lock (_events) _events.Add(e); };
            return _engine;
        }

        public List<T> Events<T>() where T : SyncEvent
        {
            lock (_events) return [.. _events.OfType<T>()];
        }

        public ServiceStatus Status(string service) => Engine.GetServiceStatuses().Single(s => s.Name == service);

        public string PathOf(string service, string relative) => Path.Combine(Root, service, relative);

        public void Write(string service, string relative, string text) => Write(service, relative, System.Text.Encoding.UTF8.GetBytes(text));

        public void Write(string service, string relative, byte[] content)
        {
            var path = PathOf(service, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, content);
        }

        public string? ReadOrNull(string service, string relative) => SshEngineTests.ReadOrNull(PathOf(service, relative));

        /// <summary>Polls <paramref name="condition"/> until it holds; fails, showing the services' states, after the deadline.</summary>
        public Task EventuallyAsync(Func<bool> condition, string what, CancellationToken cancellationToken, double seconds = 90) =>
            Eventually.HoldsAsync(condition, what, TimeSpan.FromSeconds(seconds * TimeUnit),
                () => "Services: " + (_engine is null ? "" : string.Join("; ", _engine.GetServiceStatuses().Select(s => $"{s.Name}={s.State} {s.Reason}"))),
                cancellationToken);

        public async ValueTask DisposeAsync()
        {
            if (_engine is not null) await _engine.DisposeAsync();
            // Shown by the runner when the test failed: what the engine did, in order.
            foreach (var entry in Logs.Entries)
                await TestContext.Out.WriteLineAsync(entry.ToString());
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
                // Leave it to the temp cleaner.
            }
        }
    }

    /// <summary>One log line: its level, event id, text, exception and structured values.</summary>
    private sealed record LogEntry(string Category, LogLevel Level, int EventId, string Message, string? Exception, IReadOnlyDictionary<string, string?> Values)
    {
        public string? Value(string key) => Values.GetValueOrDefault(key);

        public override string ToString() => $"[{Level}] {Category} ({EventId}): {Message}{(Exception is null ? "" : " " + Exception)}";
    }

    /// <summary>Records every log line of the engine and its drivers.</summary>
    private sealed class LogCapture : ILoggerProvider
    {
        private readonly List<LogEntry> _entries = [];

        public IReadOnlyList<LogEntry> Entries
        {
            get
            {
                lock (_entries) return [.. _entries];
            }
        }

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, this);

        public void Dispose() { }

        private sealed class Logger(string category, LogCapture capture) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var values = new Dictionary<string, string?>(StringComparer.Ordinal);
                if (state is IEnumerable<KeyValuePair<string, object?>> pairs)
                {
                    foreach (var (key, value) in pairs)
                        values[key] = Convert.ToString(value, CultureInfo.InvariantCulture);
                }
                var entry = new LogEntry(category, logLevel, eventId.Id, formatter(state, exception), exception?.ToString(), values);
                lock (capture._entries) capture._entries.Add(entry);
            }
        }
    }
}
