using System.Text;
using Onitu.Drivers.Ssh.Sftp;

namespace Onitu.Drivers.Ssh;

/// <summary>The options of an SSH service (see manifest.json), read once when the driver is created.</summary>
internal sealed record SshOptions(SftpConnectionOptions Connection, string Root, TimeSpan PollInterval, TimeSpan RescanInterval, int Connections, bool Fsync)
{
    /// <exception cref="DriverException">An option is out of range.</exception>
    public static SshOptions From(DriverOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var port = options.GetInt64("port", 22);
        if (port is < 1 or > 65535) throw new DriverException($"The option 'port' must be between 1 and 65535, not {port}.");
        var poll = options.GetInt64("poll-interval-ms", 2000);
        if (poll is < 10 or > 3_600_000) throw new DriverException($"The option 'poll-interval-ms' must be between 10 and 3600000, not {poll}.");
        var rescan = options.GetInt64("rescan-interval-ms", 60_000);
        if (rescan is < 0 or > 86_400_000) throw new DriverException($"The option 'rescan-interval-ms' must be between 0 and 86400000, not {rescan}.");
        var outstanding = options.GetInt64("max-outstanding-requests", 64);
        if (outstanding is < 1 or > 1024) throw new DriverException($"The option 'max-outstanding-requests' must be between 1 and 1024, not {outstanding}.");
        var requestSize = options.GetInt64("request-size", 0);
        if (requestSize != 0 && requestSize is < 1024 or > 262_144) throw new DriverException($"The option 'request-size' must be 0 (automatic) or between 1024 and 262144, not {requestSize}.");
        var connections = options.GetInt64("connections", 1);
        if (connections is < 1 or > 16) throw new DriverException($"The option 'connections' must be between 1 and 16, not {connections}.");
        var host = options.GetRequiredString("host");
        var user = options.GetString("user");
        if (host.StartsWith('-') || (user is not null && user.StartsWith('-')))
            throw new DriverException("The options 'host' and 'user' must not start with '-'.");
        var policy = options.GetString("known-hosts-policy") switch
        {
            null or "strict" => KnownHostsPolicy.Strict,
            "accept-new" => KnownHostsPolicy.AcceptNew,
            var other => throw new DriverException($"The option 'known-hosts-policy' must be strict or accept-new, not '{other}'."),
        };
        var root = options.GetString("root");
        return new SshOptions(
            new SftpConnectionOptions
            {
                Host = host,
                Port = (int)port,
                User = string.IsNullOrEmpty(user) ? null : user,
                IdentityFile = NullIfEmpty(options.GetString("identity-file")),
                KnownHostsPolicy = policy,
                KnownHostsFile = NullIfEmpty(options.GetString("known-hosts-file")),
                SshPath = NullIfEmpty(options.GetString("ssh-path")) ?? "ssh",
                ExtraArguments = SplitArguments(options.GetString("ssh-options") ?? ""),
                MaxOutstandingRequests = (int)outstanding,
                RequestSize = requestSize == 0 ? null : (int)requestSize,
            },
            string.IsNullOrEmpty(root) ? "." : root,
            TimeSpan.FromMilliseconds(poll),
            TimeSpan.FromMilliseconds(rescan),
            (int)connections,
            options.GetBoolean("fsync", false));
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

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
