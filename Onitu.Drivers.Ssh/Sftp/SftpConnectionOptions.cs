namespace Onitu.Drivers.Ssh.Sftp;

/// <summary>What to do with a host key that is not in known_hosts.</summary>
public enum KnownHostsPolicy
{
    /// <summary>Refuse it (<c>StrictHostKeyChecking=yes</c>): the key must already be known.</summary>
    Strict,

    /// <summary>Add it on first sight, refuse a changed one (<c>StrictHostKeyChecking=accept-new</c>).</summary>
    AcceptNew,
}

/// <summary>How to reach the SFTP server through the system OpenSSH client.</summary>
public sealed record SftpConnectionOptions
{
    /// <summary>The host name or address (or a Host alias of the ssh configuration).</summary>
    public required string Host { get; init; }

    /// <summary>The port; <see langword="null"/> leaves it to the ssh configuration (22 by default).</summary>
    public int? Port { get; init; }

    /// <summary>The user; <see langword="null"/> leaves it to the ssh configuration.</summary>
    public string? User { get; init; }

    /// <summary>The private key file (<c>-i</c>); <see langword="null"/> for ssh's defaults and agent.</summary>
    public string? IdentityFile { get; init; }

    /// <summary>Whether an unknown host key is refused or accepted on first sight.</summary>
    public KnownHostsPolicy KnownHostsPolicy { get; init; } = KnownHostsPolicy.Strict;

    /// <summary>The known_hosts file (<c>UserKnownHostsFile</c>); <see langword="null"/> for ssh's default.</summary>
    public string? KnownHostsFile { get; init; }

    /// <summary>The ssh executable: a path, or a name looked up in PATH.</summary>
    public string SshPath { get; init; } = "ssh";

    /// <summary>
    /// Further arguments for ssh (for instance <c>-o</c> options or <c>-F</c>). They come before the driver's tunable
    /// defaults (keep-alives, connect timeout), so they win over them: ssh keeps the first value of an option. The
    /// host-key checking and batch mode the other properties ask for come first and cannot be overridden.
    /// </summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    /// <summary>
    /// Seconds of silence from the server after which ssh sends a keep-alive; after <see cref="ServerAliveCountMax"/>
    /// unanswered ones it drops the connection (a stall is noticed within about (count + 1) × interval).
    /// </summary>
    public int ServerAliveIntervalSeconds { get; init; } = 5;

    /// <summary>How many unanswered keep-alives end the connection.</summary>
    public int ServerAliveCountMax { get; init; } = 3;

    /// <summary>How many READ or WRITE requests one transfer keeps outstanding.</summary>
    public int MaxOutstandingRequests { get; init; } = 64;

    /// <summary>
    /// The largest READ or WRITE request, lowered to the server's limits when it announces them;
    /// <see langword="null"/> for automatic: as large as the server's limits allow (up to 256 KiB), or 32 KiB
    /// when it announces none.
    /// </summary>
    public int? RequestSize { get; init; }

    /// <summary>How long connecting (ssh's authentication and the INIT/VERSION exchange) may take.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>The ssh command line (without the executable) these options give.</summary>
    /// <exception cref="ArgumentException">The host or user would be read as an option.</exception>
    public IReadOnlyList<string> BuildArguments()
    {
        if (string.IsNullOrWhiteSpace(Host) || Host.StartsWith('-'))
            throw new ArgumentException($"'{Host}' is not a valid SSH host.", nameof(Host));
        if (User is not null && (User.Length == 0 || User.StartsWith('-')))
            throw new ArgumentException($"'{User}' is not a valid SSH user.", nameof(User));
        var args = new List<string>();
        if (Port is { } port) { args.Add("-p"); args.Add(port.ToString(System.Globalization.CultureInfo.InvariantCulture)); }
        if (User is not null) { args.Add("-l"); args.Add(User); }
        if (IdentityFile is not null) { args.Add("-i"); args.Add(IdentityFile); }
        args.Add("-o"); args.Add("BatchMode=yes");
        args.Add("-o"); args.Add("StrictHostKeyChecking=" + (KnownHostsPolicy == KnownHostsPolicy.Strict ? "yes" : "accept-new"));
        if (KnownHostsFile is not null) { args.Add("-o"); args.Add("UserKnownHostsFile=" + KnownHostsFile); }
        // The user's options before the tunable defaults: ssh keeps the first value, so theirs win.
        args.AddRange(ExtraArguments);
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        if (ServerAliveIntervalSeconds > 0)
        {
            args.Add("-o"); args.Add("ServerAliveInterval=" + ServerAliveIntervalSeconds.ToString(invariant));
            args.Add("-o"); args.Add("ServerAliveCountMax=" + Math.Max(1, ServerAliveCountMax).ToString(invariant));
        }
        // ssh's own bound on the TCP connection and the key exchange (a frozen link would hang them).
        args.Add("-o"); args.Add("ConnectTimeout=" + Math.Max(1, (int)Math.Ceiling(ConnectTimeout.TotalSeconds)).ToString(invariant));
        // No terminal, no forwarding: a pure subsystem channel.
        args.Add("-T"); args.Add("-x"); args.Add("-a");
        args.Add("-s"); args.Add(Host); args.Add("sftp");
        return args;
    }
}
