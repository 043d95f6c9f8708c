using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Onitu.Tests;

/// <summary>
/// The S3 store the tests run against: by default a real Ceph RADOS Gateway private to the test run — one monitor,
/// one OSD (bluestore on a sparse file) and radosgw on 127.0.0.1, all foreground child processes in a temporary
/// directory, stopped by PID. With <c>ONITU_S3_TEST_BUCKET</c> set, an existing bucket of a real store instead (see
/// docs/s3.md): <c>ONITU_S3_TEST_ENDPOINT</c> (unset for AWS), <c>ONITU_S3_TEST_REGION</c>,
/// <c>ONITU_S3_TEST_ACCESS_KEY</c>, <c>ONITU_S3_TEST_SECRET_KEY</c>. Shared (tests/Shared) by the S3 driver's tests and
/// the plugin tests, which must not load the AWS SDK into the test host: it speaks to the store without the SDK.
/// </summary>
public sealed class RadosGateway : IAsyncDisposable
{
    private static readonly string[] Programs = ["/usr/bin/ceph-mon", "/usr/bin/ceph-osd", "/usr/bin/radosgw", "/usr/bin/radosgw-admin", "/usr/bin/monmaptool", "/usr/bin/ceph"];

    private readonly List<Process> _daemons = [];
    private readonly string? _directory;

    private RadosGateway(string? directory) => _directory = directory;

    /// <summary>The endpoint URL; null for Amazon S3.</summary>
    public string? Endpoint { get; private set; }

    public string? Region { get; private set; }

    public string AccessKey { get; private set; } = "";

    public string SecretKey { get; private set; } = "";

    /// <summary>A bucket the tests may fill (under prefixes of their own).</summary>
    public string Bucket { get; private set; } = "";

    /// <summary>Whether this is the local radosgw (false: a real store given by the environment).</summary>
    public bool IsLocal => _directory is not null;

    /// <summary>How long starting took, for the log.</summary>
    public TimeSpan StartTime { get; private set; }

    /// <summary>The driver options that reach this store (bucket and credentials), without a prefix.</summary>
    public Dictionary<string, object?> Options(string prefix)
    {
        var options = new Dictionary<string, object?>
        {
            ["bucket"] = Bucket,
            ["prefix"] = prefix,
            ["access-key"] = AccessKey,
            ["secret-key"] = SecretKey,
        };
        if (Endpoint is not null) options["endpoint"] = Endpoint;
        if (Region is not null) options["region"] = Region;
        return options;
    }

    /// <summary>Starts the store (or connects to the one the environment names) and creates the test bucket.</summary>
    public static async Task<RadosGateway> StartAsync()
    {
        if (Environment.GetEnvironmentVariable("ONITU_S3_TEST_BUCKET") is { Length: > 0 } bucket)
        {
            var external = new RadosGateway(null)
            {
                Bucket = bucket,
                Endpoint = Environment.GetEnvironmentVariable("ONITU_S3_TEST_ENDPOINT") is { Length: > 0 } e ? e : null,
                Region = Environment.GetEnvironmentVariable("ONITU_S3_TEST_REGION") is { Length: > 0 } r ? r : null,
                AccessKey = Environment.GetEnvironmentVariable("ONITU_S3_TEST_ACCESS_KEY") ?? "",
                SecretKey = Environment.GetEnvironmentVariable("ONITU_S3_TEST_SECRET_KEY") ?? "",
            };
            if (external.AccessKey.Length == 0 || external.SecretKey.Length == 0)
                Assert.Fail("ONITU_S3_TEST_BUCKET is set: ONITU_S3_TEST_ACCESS_KEY and ONITU_S3_TEST_SECRET_KEY must be set too.");
            return external;
        }
        var missing = Programs.Where(p => !File.Exists(p)).ToList();
        if (missing.Count > 0)
        {
            Assert.Ignore($"Ceph is not installed ({string.Join(", ", missing)} missing): the S3 tests need a RADOS Gateway. " +
                "Install it with 'apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw' (.ci/run does), " +
                "or point the tests at a real bucket with ONITU_S3_TEST_BUCKET (docs/s3.md).");
        }
        StopLeftovers();
        var gateway = new RadosGateway(Directory.CreateTempSubdirectory("onitu-ceph-").FullName);
        File.WriteAllText(gateway.Dir("pids"), "host " + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        var clock = Stopwatch.StartNew();
        try
        {
            await gateway.StartCephAsync().ConfigureAwait(false);
            gateway.StartTime = clock.Elapsed;
            return gateway;
        }
        catch
        {
            await gateway.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private string Dir(string name) => Path.Combine(_directory!, name);

    // A test host killed before its cleanup (a timeout, kill -9) leaves its daemons running: the next run stops them,
    // by the PIDs their directory recorded, once the host that started them is gone and only if each PID is still
    // the daemon started with that directory's configuration.
    private static void StopLeftovers()
    {
        foreach (var directory in Directory.EnumerateDirectories(Path.GetTempPath(), "onitu-ceph-*"))
        {
            var pids = Path.Combine(directory, "pids");
            if (!File.Exists(pids)) continue;
            var lines = File.ReadAllLines(pids).Select(l => l.Split(' ', 2)).Where(p => p.Length == 2 && int.TryParse(p[0] == "host" ? p[1] : p[0], out _)).ToList();
            if (lines.FirstOrDefault(p => p[0] == "host") is { } host && File.Exists($"/proc/{host[1]}/cmdline")) continue;
            foreach (var entry in lines.Where(p => p[0] != "host"))
            {
                var cmdline = $"/proc/{entry[0]}/cmdline";
                try
                {
                    if (!File.Exists(cmdline) || !File.ReadAllText(cmdline).Contains(Path.Combine(directory, "ceph.conf"), StringComparison.Ordinal)) continue;
                    using var process = Process.GetProcessById(int.Parse(entry[0], CultureInfo.InvariantCulture));
                    process.Kill();
                    process.WaitForExit(10_000);
                }
                catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException or UnauthorizedAccessException)
                {
                    // Gone meanwhile.
                }
            }
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private async Task StartCephAsync()
    {
        foreach (var sub in new[] { "mon", "osd", "run", "log" }) Directory.CreateDirectory(Dir(sub));
        var fsid = Guid.NewGuid().ToString();
        var monPort = FreePort();
        var rgwPort = FreePort();
        var config = Dir("ceph.conf");
        // The configuration bench/s3-sync.sh uses too (tests/Shared/ceph.conf.template), with this run's ports and directory.
        File.WriteAllText(config, File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "ceph.conf.template"))
            .Replace("@FSID@", fsid, StringComparison.Ordinal)
            .Replace("@MON_PORT@", monPort.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("@RGW_PORT@", rgwPort.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("@DIR@", _directory!, StringComparison.Ordinal)
            .Replace("@OSD_MEMORY@", "536870912", StringComparison.Ordinal));
        string[] conf = ["-c", config];
        await RunAsync("/usr/bin/monmaptool", ["--create", "--addv", "a", $"[v2:127.0.0.1:{monPort}]", "--fsid", fsid, Dir("monmap")], TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        await RunAsync("/usr/bin/ceph-mon", [.. conf, "--mkfs", "-i", "a", "--monmap", Dir("monmap")], TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        Start("/usr/bin/ceph-mon", [.. conf, "-i", "a", "-f"]);
        var osdId = Guid.NewGuid().ToString();
        await RunAsync("/usr/bin/ceph", [.. conf, "--connect-timeout", "30", "osd", "new", osdId], TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        await RunAsync("/usr/bin/ceph-osd", [.. conf, "-i", "0", "--mkfs", "--osd-uuid", osdId], TimeSpan.FromSeconds(120)).ConfigureAwait(false);
        Start("/usr/bin/ceph-osd", [.. conf, "-i", "0", "-f"]);
        Start("/usr/bin/radosgw", [.. conf, "-n", "client.rgw", "-f"]);

        Endpoint = $"http://127.0.0.1:{rgwPort}";
        Region = "us-east-1";
        var deadline = Stopwatch.StartNew();
        while (!await AnswersAsync(rgwPort).ConfigureAwait(false))
        {
            if (_daemons.FirstOrDefault(d => d.HasExited) is { } dead)
                throw new InvalidOperationException($"{dead.StartInfo.FileName} exited with {dead.ExitCode} while Ceph started.\n{Logs()}");
            if (deadline.Elapsed > TimeSpan.FromMinutes(3))
                throw new InvalidOperationException($"radosgw did not answer on 127.0.0.1:{rgwPort} within 3 minutes.\n{Logs()}");
            await Task.Delay(200).ConfigureAwait(false);
        }
        AccessKey = "ONITUTEST" + Convert.ToHexString(Guid.NewGuid().ToByteArray())[..11];
        SecretKey = Convert.ToBase64String(Guid.NewGuid().ToByteArray()) + Convert.ToBase64String(Guid.NewGuid().ToByteArray());
        await RunAsync("/usr/bin/radosgw-admin", [.. conf, "user", "create", "--uid", "onitu-test", "--display-name", "Onitu tests",
            "--access-key", AccessKey, "--secret", SecretKey], TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        Bucket = "onitu-tests";
        await CreateBucketAsync(rgwPort).ConfigureAwait(false);
    }

    // A PUT of the bucket signed with AWS signature version 2, which radosgw accepts: the test hosts that share this
    // class (the plugin tests) must not load the AWS SDK themselves.
    private async Task CreateBucketAsync(int port)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Put, $"http://127.0.0.1:{port}/{Bucket}");
            var date = DateTimeOffset.UtcNow.ToString("r", CultureInfo.InvariantCulture);
#pragma warning disable CA5350 // SHA-1 is what signature version 2 is made of; the key is a throw-away test key
            var signature = Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(SecretKey), Encoding.UTF8.GetBytes($"PUT\n\n\n{date}\n/{Bucket}")));
#pragma warning restore CA5350
            request.Headers.TryAddWithoutValidation("Date", date);
            request.Headers.TryAddWithoutValidation("Authorization", $"AWS {AccessKey}:{signature}");
            string problem;
            try
            {
                using var response = await http.SendAsync(request).ConfigureAwait(false);
                if (response.IsSuccessStatusCode) return;
                problem = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync().ConfigureAwait(false)}";
                if ((int)response.StatusCode < 500) throw new InvalidOperationException($"Creating the bucket '{Bucket}' failed: {problem}\n{Logs()}");
            }
            catch (HttpRequestException e)
            {
                problem = e.Message;
            }
            // A radosgw that has just opened its port may answer 503 for a moment, as the SDK's retries used to hide.
            if (deadline.Elapsed > TimeSpan.FromSeconds(60)) throw new InvalidOperationException($"Creating the bucket '{Bucket}' failed: {problem}\n{Logs()}");
            await Task.Delay(500).ConfigureAwait(false);
        }
    }

    private static async Task<bool> AnswersAsync(int port)
    {
        using var probe = new TcpClient();
        try
        {
            await probe.ConnectAsync(IPAddress.Loopback, port).ConfigureAwait(false);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private void Start(string program, string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start.");
        var log = new StreamWriter(Dir("log/" + Path.GetFileName(program) + ".out"), append: true) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _daemons.Add(process);
        // The PIDs, so that the next run can stop what a killed run left (StopLeftovers).
        File.AppendAllText(Dir("pids"), process.Id.ToString(CultureInfo.InvariantCulture) + " " + program + "\n");
    }

    private async Task RunAsync(string program, string[] arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new InvalidOperationException($"{Path.GetFileName(program)} {string.Join(' ', arguments)} did not finish within {timeout}.\n{Logs()}");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{Path.GetFileName(program)} {string.Join(' ', arguments.Where(a => a != SecretKey))} failed ({process.ExitCode}):\n{await output.ConfigureAwait(false)}{await error.ConfigureAwait(false)}\n{Logs()}");
    }

    private string Logs()
    {
        var text = new StringBuilder();
        foreach (var file in Directory.EnumerateFiles(Dir("log")).Order())
        {
            string[] lines;
            try
            {
                lines = File.ReadAllLines(file);
            }
            catch (IOException)
            {
                continue;
            }
            text.AppendLine("--- " + Path.GetFileName(file));
            foreach (var line in lines.TakeLast(15)) text.AppendLine(line);
        }
        return text.ToString();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Stops the daemons (by PID, SIGKILL: their data is thrown away) and removes the directory.</summary>
    public ValueTask DisposeAsync()
    {
        foreach (var daemon in Enumerable.Reverse(_daemons))
        {
            try
            {
                if (!daemon.HasExited) daemon.Kill();
                daemon.WaitForExit(10_000);
            }
            catch (InvalidOperationException)
            {
                // Never started or already reaped.
            }
            daemon.Dispose();
        }
        _daemons.Clear();
        if (_directory is not null)
        {
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
                // A daemon still closing a file: the temporary directory is left behind.
            }
        }
        return ValueTask.CompletedTask;
    }
}
