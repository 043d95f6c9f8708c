using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
namespace Onitu.Tests;

/// <summary>
/// A real OpenSSH server on 127.0.0.1, private to the test run: its own host key, one authorized user key,
/// a known_hosts file holding the host key, and an sshd_config in a temporary directory. Nothing of the machine's
/// own ~/.ssh or /etc/ssh is used. Installs openssh-server with apt-get when sshd is missing and the tests run as
/// root. Shared by the ssh driver's tests and the plugin tests (tests/Shared); the ssh tests add driver-specific helpers.
/// </summary>
public sealed class SshdFixture : IAsyncDisposable
{
    public const string SshdPath = "/usr/sbin/sshd";

    private Process? _sshd;
    private string? _configFile;
    private readonly StringBuilder _log = new();

    private SshdFixture(string directory) => Directory = directory;

    /// <summary>The temporary directory holding keys, configuration and the test files (under <see cref="DataDirectory"/>).</summary>
    public string Directory { get; }

    /// <summary>A directory the tests may fill; absolute path on the server (the same machine).</summary>
    public string DataDirectory => Path.Combine(Directory, "data");

    public int Port { get; private set; }

    public string User { get; } = Environment.UserName;

    /// <summary>The private key the server accepts.</summary>
    public string IdentityFile => Path.Combine(Directory, "id_ed25519");

    /// <summary>A private key the server does not accept.</summary>
    public string WrongIdentityFile => Path.Combine(Directory, "wrong_ed25519");

    /// <summary>A known_hosts file holding the server's host key.</summary>
    public string KnownHostsFile => Path.Combine(Directory, "known_hosts");

    /// <summary>An empty known_hosts file.</summary>
    public string EmptyKnownHostsFile => Path.Combine(Directory, "empty_known_hosts");

    /// <summary>
    /// The ssh client arguments that connect to this server with <see cref="IdentityFile"/> and <see cref="KnownHostsFile"/> only,
    /// ignoring the user's and the system's ssh configuration and agent.
    /// </summary>
    public static IReadOnlyList<string> IsolatedClientArguments { get; } =
        ["-F", "none", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"];

    /// <summary><see cref="IsolatedClientArguments"/> as the ssh driver's <c>ssh-options</c> option.</summary>
    public static string IsolatedSshOptions => string.Join(' ', IsolatedClientArguments);

    public static async Task<SshdFixture> StartAsync()
    {
        await EnsureInstalledAsync().ConfigureAwait(false);
        var fixture = new SshdFixture(System.IO.Directory.CreateTempSubdirectory("onitu-sshd-").FullName);
        try
        {
            await fixture.InitializeAsync().ConfigureAwait(false);
            return fixture;
        }
        catch
        {
            await fixture.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task EnsureInstalledAsync()
    {
        if (File.Exists(SshdPath) && File.Exists("/usr/bin/ssh") && File.Exists("/usr/bin/ssh-keygen")) return;
        if (Environment.UserName != "root")
            Assert.Ignore($"{SshdPath} is missing and the tests do not run as root to install openssh-server.");
        var (code, output) = await RunAsync("/bin/sh", ["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client"], TimeSpan.FromMinutes(5)).ConfigureAwait(false);
        if (code != 0 || !File.Exists(SshdPath)) throw new InvalidOperationException($"Installing openssh-server failed ({code}):\n{output}");
    }

    private async Task InitializeAsync()
    {
        System.IO.Directory.CreateDirectory(DataDirectory);
        // sshd insists on its privilege separation directory.
        System.IO.Directory.CreateDirectory("/run/sshd");
        var hostKey = Path.Combine(Directory, "host_ed25519");
        await KeygenAsync(hostKey).ConfigureAwait(false);
        await KeygenAsync(IdentityFile).ConfigureAwait(false);
        await KeygenAsync(WrongIdentityFile).ConfigureAwait(false);
        File.Copy(IdentityFile + ".pub", Path.Combine(Directory, "authorized_keys"));
        File.WriteAllText(EmptyKnownHostsFile, "");

        // A free port can be taken between the probe and sshd's bind: retry a few times.
        for (var attempt = 1; ; attempt++)
        {
            Port = FreePort();
            File.WriteAllText(KnownHostsFile, $"[127.0.0.1]:{Port} {HostKeyLine(hostKey + ".pub")}\n");
            var config = _configFile = Path.Combine(Directory, "sshd_config");
            File.WriteAllText(config, File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "sshd_config.template"))
                .Replace("@PORT@", Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
                .Replace("@DIR@", Directory, StringComparison.Ordinal));
            if (await TryStartSshdAsync(config).ConfigureAwait(false)) return;
            if (attempt == 3) throw new InvalidOperationException($"sshd did not start:\n{SshdLog()}");
        }
    }

    private async Task<bool> TryStartSshdAsync(string config)
    {
        var start = new ProcessStartInfo(SshdPath) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[] { "-D", "-e", "-f", config }) start.ArgumentList.Add(argument);
        var sshd = Process.Start(start)!;
        sshd.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        sshd.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        sshd.BeginErrorReadLine();
        sshd.BeginOutputReadLine();
        _sshd = sshd;

        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (sshd.HasExited)
            {
                sshd.Dispose();
                _sshd = null;
                return false;
            }
            using var probe = new TcpClient();
            try
            {
                await probe.ConnectAsync(IPAddress.Loopback, Port).ConfigureAwait(false);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(20).ConfigureAwait(false);
            }
        }
        throw new InvalidOperationException($"sshd did not listen on port {Port} within 10 s:\n{SshdLog()}");
    }

    /// <summary>Whether sshd is up (between start or <see cref="RestartAsync"/> and <see cref="StopAsync"/>).</summary>
    public bool IsRunning => _sshd is { HasExited: false };

    /// <summary>
    /// The per-connection processes of sshd (its descendants: the privileged monitor and the unprivileged session
    /// process of every open connection; internal-sftp runs inside the latter).
    /// </summary>
    public IReadOnlyList<int> SessionProcessIds() => _sshd is { } sshd ? DescendantsOf(sshd.Id) : [];

    /// <summary>
    /// Kills sshd as a crash would: the listener and every per-connection process, so that the clients' connections
    /// drop at once (killing only the listener leaves the established sessions serving). Returns once the port is
    /// closed and none of those processes is alive any more; <see cref="RestartAsync"/> brings the server back.
    /// </summary>
    public async Task StopAsync()
    {
        var sshd = _sshd ?? throw new InvalidOperationException("sshd is not running.");
        var sessions = DescendantsOf(sshd.Id);
        // .NET stops the listener first (SIGSTOP) so it cannot fork a new session while its tree is being killed.
        sshd.Kill(entireProcessTree: true);
        await sshd.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        sshd.Dispose();
        _sshd = null;

        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var alive = await AliveAsync(sessions).ConfigureAwait(false);
            if (alive.Count == 0 && !await AcceptsConnectionsAsync().ConfigureAwait(false)) return;
            if (deadline.Elapsed > TimeSpan.FromSeconds(10))
                throw new InvalidOperationException($"sshd's session processes {string.Join(", ", alive)} outlived it, or port {Port} still accepts connections.");
            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    /// <summary>Starts sshd again on the same port with the same configuration and keys (after <see cref="StopAsync"/>).</summary>
    public async Task RestartAsync()
    {
        if (IsRunning) throw new InvalidOperationException("sshd is running already.");
        var config = _configFile ?? throw new InvalidOperationException("sshd was never started.");
        // The port was just released; sshd binds with SO_REUSEADDR, so only a stranger taking it meanwhile (or a
        // slow release) makes it exit: try again for a while rather than once.
        var deadline = Stopwatch.StartNew();
        while (!await TryStartSshdAsync(config).ConfigureAwait(false))
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(20))
                throw new InvalidOperationException($"sshd did not start again on port {Port}:\n{SshdLog()}");
            await Task.Delay(100).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Which of <paramref name="processIds"/> are alive according to <c>ps</c>. Zombies count as dead: a killed
    /// session whose parent (sshd) died too is reparented to PID 1, which in a container may never reap it.
    /// </summary>
    public static async Task<IReadOnlyList<int>> AliveAsync(IReadOnlyList<int> processIds)
    {
        if (processIds.Count == 0) return [];
        var (_, output) = await RunAsync("ps", ["-o", "pid=,stat=", "-p", string.Join(',', processIds)], TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        var alive = new List<int>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length == 2 && int.TryParse(parts[0], System.Globalization.CultureInfo.InvariantCulture, out var pid) && !parts[1].StartsWith('Z'))
                alive.Add(pid);
        }
        return alive;
    }

    private async Task<bool> AcceptsConnectionsAsync()
    {
        using var probe = new TcpClient();
        try
        {
            await probe.ConnectAsync(IPAddress.Loopback, Port).ConfigureAwait(false);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Every descendant of <paramref name="root"/>, from the parent ids in /proc/*/stat.</summary>
    private static List<int> DescendantsOf(int root)
    {
        var children = new Dictionary<int, List<int>>();
        foreach (var entry in System.IO.Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), System.Globalization.CultureInfo.InvariantCulture, out var pid)) continue;
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(entry, "stat"));
            }
            catch (IOException)
            {
                continue; // exited meanwhile
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (fields.Length > 1 && int.TryParse(fields[1], System.Globalization.CultureInfo.InvariantCulture, out var parent))
            {
                if (!children.TryGetValue(parent, out var list)) children[parent] = list = [];
                list.Add(pid);
            }
        }
        var result = new List<int>();
        var pending = new Stack<int>([root]);
        while (pending.TryPop(out var current))
        {
            foreach (var child in children.GetValueOrDefault(current) ?? [])
            {
                result.Add(child);
                pending.Push(child);
            }
        }
        return result;
    }

    /// <summary>A known_hosts line with the server's host key for 127.0.0.1:<paramref name="port"/> (a relay in front of it).</summary>
    public string KnownHostsLine(int port) => $"[127.0.0.1]:{port} {HostKeyLine(Path.Combine(Directory, "host_ed25519.pub"))}";

    /// <summary>A known_hosts line that gives 127.0.0.1:<paramref name="port"/> another key than the server's: a changed host key.</summary>
    public string ChangedKnownHostsLine(int port) => $"[127.0.0.1]:{port} {HostKeyLine(WrongIdentityFile + ".pub")}";

    /// <summary>The name of the second, unprivileged login user <see cref="UnprivilegedUserAsync"/> creates.</summary>
    public const string UnprivilegedUser = "onitu-test-nobody";

    /// <summary>
    /// Creates (once) a second login user without privileges, accepted with <see cref="IdentityFile"/>, and returns
    /// a fresh directory it owns under <see cref="DataDirectory"/>. Tests of what a login user may not read need it:
    /// the tests themselves run as root, who reads everything. Ignores the test when not running as root.
    /// </summary>
    public async Task<string> UnprivilegedDirectoryAsync()
    {
        if (Environment.UserName != "root") Assert.Ignore("Creating a second login user needs root.");
        await UserLock.WaitAsync().ConfigureAwait(false);
        try
        {
            var (exists, _) = await RunAsync("id", ["-u", UnprivilegedUser], TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            if (exists != 0)
            {
                var (code, output) = await RunAsync("useradd", ["--system", "--no-create-home", "--shell", "/bin/sh", UnprivilegedUser], TimeSpan.FromSeconds(30)).ConfigureAwait(false);
                if (code != 0 && code != 9) throw new InvalidOperationException($"useradd failed ({code}): {output}");
            }
            // A new account is locked ('!' password), and sshd refuses locked accounts even for keys: no password.
            var (unlock, unlockOutput) = await RunAsync("usermod", ["-p", "*", UnprivilegedUser], TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            if (unlock != 0) throw new InvalidOperationException($"usermod failed ({unlock}): {unlockOutput}");
            // sshd reads authorized_keys as the user: the way to it must be open to them.
            var (chmod, chmodOutput) = await RunAsync("chmod", ["go+x", Directory, DataDirectory], TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            if (chmod == 0) (chmod, chmodOutput) = await RunAsync("chmod", ["go+r", Path.Combine(Directory, "authorized_keys")], TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            if (chmod != 0) throw new InvalidOperationException($"chmod failed ({chmod}): {chmodOutput}");
        }
        finally
        {
            UserLock.Release();
        }
        var home = System.IO.Directory.CreateDirectory(Path.Combine(DataDirectory, "nobody-" + Guid.NewGuid().ToString("N")[..12])).FullName;
        var (chown, chownOutput) = await RunAsync("chown", [UnprivilegedUser, home], TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        if (chown != 0) throw new InvalidOperationException($"chown failed ({chown}): {chownOutput}");
        return home;
    }

    private static readonly SemaphoreSlim UserLock = new(1, 1);

    /// <summary>Gives <paramref name="path"/> and everything below it to <see cref="UnprivilegedUser"/>.</summary>
    public static async Task GiveToUnprivilegedUserAsync(string path)
    {
        var (code, output) = await RunAsync("chown", ["-R", UnprivilegedUser, path], TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        if (code != 0) throw new InvalidOperationException($"chown failed ({code}): {output}");
    }

    public string SshdLog()
    {
        lock (_log) return _log.ToString();
    }

    private static string HostKeyLine(string publicKeyFile)
    {
        // "ssh-ed25519 AAAA... comment": keep the type and the key.
        var parts = File.ReadAllText(publicKeyFile).Trim().Split(' ');
        return $"{parts[0]} {parts[1]}";
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task KeygenAsync(string file)
    {
        var (code, output) = await RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "onitu-test", "-f", file], TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        if (code != 0) throw new InvalidOperationException($"ssh-keygen failed ({code}): {output}");
    }

    private static async Task<(int Code, string Output)> RunAsync(string file, string[] arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cancel.Token).ConfigureAwait(false);
        return (process.ExitCode, await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false));
    }

    public async ValueTask DisposeAsync()
    {
        if (_sshd is { } sshd)
        {
            try
            {
                if (!sshd.HasExited)
                {
                    sshd.Kill(entireProcessTree: true);
                    await sshd.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
            sshd.Dispose();
            _sshd = null;
        }
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Leave it to the temp cleaner.
        }
    }
}
