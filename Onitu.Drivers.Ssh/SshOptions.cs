using System.Text;
using Onitu.Drivers.Ssh.Sftp;

namespace Onitu.Drivers.Ssh;

/// <summary>The options of an SSH service (see manifest.json), read once when the driver is created.</summary>
internal sealed record SshOptions(SftpConnectionOptions Connection, string Root, TimeSpan PollInterval, TimeSpan RescanInterval, int Connections, bool Fsync,
    int Transfers)
{
    /// <summary>The default of <c>transfers</c>: enough files in flight to hide a few round trips each.</summary>
    public const int DefaultTransfers = 32;

    /// <summary>The default of <c>timeout-s</c>: a stall is noticed within it.</summary>
    public const int DefaultTimeoutSeconds = 20;

    /// <summary>Reads the options; relative file paths are resolved against <paramref name="baseDirectory"/>.</summary>
    /// <exception cref="DriverException">An option is out of range or unusable (every problem in the message).</exception>
    public static SshOptions From(DriverOptions options, string? baseDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        baseDirectory ??= Directory.GetCurrentDirectory();
        var problems = Check(options, baseDirectory).Select(p => p.Option is null ? p.Message : $"The option '{p.Option}' {p.Message}").ToList();
        if (problems.Count > 0) throw new DriverException(string.Join(" ", problems.Select(p => p.EndsWith('.') ? p : p + ".")));

        var policy = options.GetString("known-hosts-policy") == "accept-new" ? KnownHostsPolicy.AcceptNew : KnownHostsPolicy.Strict;
        var requestSize = options.GetInt64("request-size", 0);
        var timeout = (int)options.GetInt64("timeout-s", DefaultTimeoutSeconds);
        var root = options.GetString("root");
        var user = options.GetString("user");
        return new SshOptions(
            new SftpConnectionOptions
            {
                Host = options.GetRequiredString("host"),
                Port = (int)options.GetInt64("port", 22),
                User = string.IsNullOrEmpty(user) ? null : user,
                IdentityFile = ResolveFile(options.GetString("identity-file"), baseDirectory),
                KnownHostsPolicy = policy,
                KnownHostsFile = ResolveFile(options.GetString("known-hosts-file"), baseDirectory),
                SshPath = NullIfEmpty(options.GetString("ssh-path")) ?? "ssh",
                ExtraArguments = SplitArguments(options.GetString("ssh-options") ?? ""),
                MaxOutstandingRequests = (int)options.GetInt64("max-outstanding-requests", 64),
                RequestSize = requestSize == 0 ? null : (int)requestSize,
                ServerAliveIntervalSeconds = Math.Max(1, timeout / 4),
                ConnectTimeout = TimeSpan.FromSeconds(timeout),
            },
            string.IsNullOrEmpty(root) ? "." : root,
            TimeSpan.FromMilliseconds(options.GetInt64("poll-interval-ms", 2000)),
            TimeSpan.FromMilliseconds(options.GetInt64("rescan-interval-ms", 60_000)),
            (int)options.GetInt64("connections", 1),
            options.GetBoolean("fsync", false),
            (int)options.GetInt64("transfers", DefaultTransfers));
    }

    /// <summary>
    /// Every problem of the options, including the ranges the manifest also declares (for a caller that bypassed
    /// the manifest's validation) and what it cannot say: quotes, files that must exist.
    /// </summary>
    public static IEnumerable<DriverOptionProblem> Check(DriverOptions options, string baseDirectory)
    {
        ArgumentNullException.ThrowIfNull(options);
        foreach (var (key, low, high, fallback) in new (string, long, long, long)[]
        {
            ("port", 1, 65535, 22), ("timeout-s", 2, 3600, DefaultTimeoutSeconds), ("poll-interval-ms", 10, 3_600_000, 2000),
            ("rescan-interval-ms", 0, 86_400_000, 60_000), ("max-outstanding-requests", 1, 1024, 64), ("connections", 1, 16, 1),
            ("transfers", 1, 1024, DefaultTransfers),
        })
        {
            var value = options.GetInt64(key, fallback);
            if (value < low || value > high) yield return new DriverOptionProblem(key, $"must be between {low} and {high}, got {value}");
        }
        var requestSize = options.GetInt64("request-size", 0);
        if (requestSize != 0 && requestSize is < 1024 or > 262_144)
            yield return new DriverOptionProblem("request-size", $"must be 0 (automatic) or between 1024 and 262144, got {requestSize}");

        var host = options.GetString("host");
        if (string.IsNullOrWhiteSpace(host)) yield return new DriverOptionProblem("host", "must not be empty");
        else if (host.StartsWith('-') || host.Any(char.IsWhiteSpace))
            yield return new DriverOptionProblem("host", $"must be a host name, not something ssh would read as an option or several words, got \"{host}\"");
        var user = options.GetString("user");
        if (user is not null && (user.Length == 0 || user.StartsWith('-') || user.Any(char.IsWhiteSpace)))
            yield return new DriverOptionProblem("user", $"must be a user name, not something ssh would read as an option, got \"{user}\"");

        if (Unbalanced(options.GetString("ssh-options") ?? "") is { } quote)
            yield return new DriverOptionProblem("ssh-options", $"has an unclosed {quote} quote");

        if (options.GetString("identity-file") is { Length: > 0 } identity)
        {
            var full = ResolveFile(identity, baseDirectory)!;
            if (!File.Exists(full))
                yield return new DriverOptionProblem("identity-file", Directory.Exists(full) ? $"names a directory, not a key file: {full}" : $"names a file that does not exist: {full}");
        }

        var ssh = NullIfEmpty(options.GetString("ssh-path")) ?? "ssh";
        if (FindExecutable(ssh, baseDirectory) is null)
            yield return new DriverOptionProblem("ssh-path", ssh.Contains('/')
                ? $"names a file that does not exist: {Path.GetFullPath(ssh, baseDirectory)}"
                : $"names '{ssh}', which is not in PATH (install the OpenSSH client, or give its full path)");
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    /// <summary>A file option as ssh must see it: <c>~/</c> is the home directory, a relative path is the setup's.</summary>
    internal static string? ResolveFile(string? path, string baseDirectory)
    {
        if (string.IsNullOrEmpty(path)) return null;
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal))
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path.Length > 2 ? path[2..] : "");
        return Path.GetFullPath(path, baseDirectory);
    }

    private static string? FindExecutable(string name, string baseDirectory)
    {
        if (name.Contains('/')) return File.Exists(Path.GetFullPath(name, baseDirectory)) ? name : null;
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    // The quote left open at the end of the text, if any (the same rules as SplitArguments).
    private static char? Unbalanced(string text)
    {
        char? quote = null;
        foreach (var c in text)
        {
            if (quote is not null) { if (c == quote) quote = null; }
            else if (c is '"' or '\'') quote = c;
        }
        return quote;
    }

    /// <summary>Splits on whitespace; single or double quotes group (no escapes).</summary>
    internal static List<string> SplitArguments(string text)
    {
        var result = new List<string>();
        var current = new StringBuilder();
        var inWord = false;
        char? quote = null;
        foreach (var c in text)
        {
            if (quote is not null)
            {
                if (c == quote) quote = null;
                else current.Append(c);
            }
            else if (c is '"' or '\'')
            {
                quote = c;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord) result.Add(current.ToString());
                current.Clear();
                inWord = false;
            }
            else
            {
                current.Append(c);
                inWord = true;
            }
        }
        if (quote is not null) throw new DriverException("The option 'ssh-options' has an unclosed quote.");
        if (inWord) result.Add(current.ToString());
        return result;
    }
}
