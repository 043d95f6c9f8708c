using System.Buffers.Binary;

namespace Onitu.Drivers.Ssh.Sftp;

/// <summary>An open file or directory handle on the server.</summary>
/// <param name="Value">The server's opaque handle.</param>
/// <param name="Path">The path it was opened with, for messages.</param>
public sealed record SftpHandle(byte[] Value, string Path);

/// <summary>
/// An SFTP v3 session (draft-ietf-secsh-filexfer-02, with OpenSSH's extensions) over the system OpenSSH client,
/// <c>ssh -s host sftp</c>, as sshfs does: authentication, agents, ~/.ssh/config and known_hosts are OpenSSH's.
/// </summary>
/// <remarks>
/// Typed requests and pipelined transfers over an <see cref="SftpSession"/> (the ssh process, packet framing and
/// dispatch by request id). Thread-safe: any number of requests may be outstanding at once. Error statuses become
/// exceptions: no such file is <see cref="RemoteFileNotFoundException"/>, other statuses
/// <see cref="SftpStatusException"/>, a failed or lost connection <see cref="SshConnectionException"/> carrying ssh's
/// diagnostics.
/// </remarks>
public sealed partial class SftpClient : IAsyncDisposable
{
    /// <summary>The protocol version this client speaks.</summary>
    public const uint ProtocolVersion = 3;

    // Room for the WRITE header (type, id, handle, offset, data length) inside the server's packet limit.
    private const int WriteOverhead = 1024;

    // The request size used when the server announces its limits and the options leave the size open; the limits
    // lower it further (OpenSSH accepts 255 KiB, like its own sftp client uses).
    private const int MaxAutomaticRequestSize = 256 * 1024;

    private readonly SftpConnectionOptions _options;
    private readonly SftpSession _session;

    private SftpClient(SftpConnectionOptions options, SftpSession session)
    {
        _options = options;
        _session = session;
    }

    /// <summary>The protocol version the server answered.</summary>
    public uint ServerVersion { get; private set; }

    /// <summary>The extensions the server announced in its VERSION, by name.</summary>
    public IReadOnlyDictionary<string, string> Extensions { get; private set; } = new Dictionary<string, string>();

    /// <summary>The server's limits, if it announced limits@openssh.com.</summary>
    public SftpLimits? Limits { get; private set; }

    /// <summary>The size of each READ request of a pipelined read.</summary>
    public int MaxReadSize { get; private set; }

    /// <summary>The size of each WRITE request of a pipelined write.</summary>
    public int MaxWriteSize { get; private set; }

    /// <summary>How many requests one pipelined transfer keeps outstanding.</summary>
    public int MaxOutstandingRequests => Math.Max(1, _options.MaxOutstandingRequests);

    /// <summary>Whether the session can still take requests (it has not failed or been closed).</summary>
    public bool IsOpen => _session.IsOpen;

    /// <summary>The ssh process id, for tests that cut the connection.</summary>
    internal int SshProcessId => _session.SshProcessId;

    /// <summary>How many requests were made on this session (the handshake's included), for tests.</summary>
    internal long RequestCount => _session.RequestCount;

    /// <summary>Whether the server announced the extension <paramref name="name"/> (see <see cref="SftpExtensions"/>).</summary>
    public bool HasExtension(string name) => Extensions.ContainsKey(name);

    /// <summary>Starts ssh, negotiates the protocol version and reads the server's limits.</summary>
    /// <exception cref="DriverException">The ssh executable cannot be started.</exception>
    /// <exception cref="SshConnectionException">ssh could not connect or authenticate, or the server did not answer.</exception>
    public static async Task<SftpClient> ConnectAsync(SftpConnectionOptions options, CancellationToken cancellationToken)
    {
        var client = new SftpClient(options, SftpSession.Start(options));
        try
        {
            await client.HandshakeAsync(cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        var version = await _session.ExchangeVersionAsync(ProtocolVersion, cancellationToken).ConfigureAwait(false);

        ParseVersion(version.Body.Span);
        if (ServerVersion < ProtocolVersion)
            throw new SshConnectionException($"The SFTP server at {_options.Host} speaks version {ServerVersion}; version 3 is needed.", "", isTransient: false);

        // Without limits@openssh.com, 32 KiB is what every server must accept (the draft's minimum packet size).
        var requestSize = Math.Max(1024, _options.RequestSize ?? (HasExtension(SftpExtensions.Limits) ? MaxAutomaticRequestSize : 32_768));
        MaxReadSize = requestSize;
        MaxWriteSize = requestSize;
        if (HasExtension(SftpExtensions.Limits))
        {
            Limits = await GetLimitsAsync(cancellationToken).ConfigureAwait(false);
            if (Limits.MaxReadLength > 0) MaxReadSize = (int)Math.Min((ulong)MaxReadSize, Limits.MaxReadLength);
            if (Limits.MaxWriteLength > 0) MaxWriteSize = (int)Math.Min((ulong)MaxWriteSize, Limits.MaxWriteLength);
            if (Limits.MaxPacketLength > WriteOverhead)
                MaxWriteSize = (int)Math.Min((ulong)MaxWriteSize, Limits.MaxPacketLength - WriteOverhead);
        }
    }

    private void ParseVersion(ReadOnlySpan<byte> body)
    {
        var reader = new SftpPacketReader(body);
        ServerVersion = reader.ReadUInt32();
        var extensions = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.Remaining > 0)
        {
            var name = reader.ReadString();
            extensions[name] = reader.ReadString();
        }
        Extensions = extensions;
    }

    private async Task<SftpLimits> GetLimitsAsync(CancellationToken cancellationToken)
    {
        var (id, packet) = _session.NewRequest(SftpPacketType.Extended);
        packet.WriteString(SftpExtensions.Limits);
        var response = await _session.SendAsync(id, packet, cancellationToken).ConfigureAwait(false);
        if (response.Type == SftpPacketType.Status) ThrowStatus(response, "limits", "");
        Expect(response, SftpPacketType.ExtendedReply, "limits");
        var reader = new SftpPacketReader(response.Body.Span);
        return new SftpLimits(reader.ReadUInt64(), reader.ReadUInt64(), reader.ReadUInt64(), reader.ReadUInt64());
    }

    // ---- Files ----------------------------------------------------------------------------------------------

    /// <summary>Opens a file (SSH_FXP_OPEN).</summary>
    public async Task<SftpHandle> OpenAsync(string path, SftpOpenFlags flags, SftpAttributes? attributes, CancellationToken cancellationToken) =>
        ExpectHandle(await SendOpenAsync(path, flags, attributes, cancellationToken).ConfigureAwait(false), "open", path);

    /// <summary>
    /// Opens a file (SSH_FXP_OPEN); <see langword="null"/> when the server answers that there is no such file (for a
    /// file created by the open: no such directory), read from the reply's status rather than thrown and caught.
    /// </summary>
    public async Task<SftpHandle?> TryOpenAsync(string path, SftpOpenFlags flags, SftpAttributes? attributes, CancellationToken cancellationToken)
    {
        var response = await SendOpenAsync(path, flags, attributes, cancellationToken).ConfigureAwait(false);
        return IsNoSuchFile(response) ? null : ExpectHandle(response, "open", path);
    }

    private Task<SftpResponse> SendOpenAsync(string path, SftpOpenFlags flags, SftpAttributes? attributes, CancellationToken cancellationToken)
    {
        var (id, packet) = _session.NewRequest(SftpPacketType.Open, path.Length + 64);
        packet.WriteString(path);
        packet.WriteUInt32((uint)flags);
        (attributes ?? SftpAttributes.Empty).WriteTo(packet);
        return _session.SendAsync(id, packet, cancellationToken);
    }

    /// <summary>Closes a file or directory handle (SSH_FXP_CLOSE).</summary>
    public async Task CloseAsync(SftpHandle handle, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handle);
        var (id, packet) = _session.NewRequest(SftpPacketType.Close);
        packet.WriteBytes(handle.Value);
        ExpectOk(await _session.SendAsync(id, packet, cancellationToken).ConfigureAwait(false), "close", handle.Path);
    }

    /// <summary>
    /// One READ request: up to <paramref name="destination"/>'s length at <paramref name="offset"/>, copied into
    /// it. Returns the bytes read; 0 at the end of the file. A server may return fewer bytes than asked before the end.
    /// </summary>
    public async Task<int> ReadChunkAsync(SftpHandle handle, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        using var data = await ReadBlockAsync(handle, offset, destination.Length, cancellationToken).ConfigureAwait(false);
        data.Memory.CopyTo(destination);
        return data.Memory.Length;
    }

    /// <summary>
    /// One READ request, its reply kept in a pooled buffer until the returned block is disposed: the read-ahead of
    /// a stream holds many of them without copying. Empty at the end of the file.
    /// </summary>
    internal async Task<SftpDataBlock> ReadBlockAsync(SftpHandle handle, long offset, int length, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var (id, packet) = _session.NewRequest(SftpPacketType.Read, handle.Value.Length + 32);
        packet.WriteBytes(handle.Value);
        packet.WriteUInt64((ulong)offset);
        packet.WriteUInt32((uint)length);
        var response = await _session.SendAsync(id, packet, cancellationToken).ConfigureAwait(false);
        if (response.Type == SftpPacketType.Status)
        {
            if (StatusCode(response) == SftpStatusCode.Eof) return default;
            ThrowStatus(response, "read", handle.Path);
        }
        Expect(response, SftpPacketType.Data, "read");
        var body = response.Body;
        var length32 = body.Length >= 4 ? BinaryPrimitives.ReadUInt32BigEndian(body.Span) : uint.MaxValue;
        if (length32 > (uint)(body.Length - 4) || length32 > (uint)length)
        {
            response.Release();
            throw new ServiceException($"The SFTP server sent a malformed DATA reply reading {handle.Path}.");
        }
        return new SftpDataBlock(body.Slice(4, (int)length32), response.Release);
    }

    /// <summary>
    /// One WRITE request of <paramref name="data"/> at <paramref name="offset"/>. The bytes are copied into the
    /// request before this method returns its task, so the caller may reuse its buffer at once.
    /// </summary>
    public Task WriteChunkAsync(SftpHandle handle, long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var (id, packet) = _session.NewRequest(SftpPacketType.Write, handle.Value.Length + data.Length + 32);
        packet.WriteBytes(handle.Value);
        packet.WriteUInt64((ulong)offset);
        packet.WriteBytes(data.Span);
        return ExpectOkAsync(_session.SendAsync(id, packet, cancellationToken), "write", handle.Path);
    }

    private static async Task ExpectOkAsync(Task<SftpResponse> reply, string operation, string path) =>
        ExpectOk(await reply.ConfigureAwait(false), operation, path);
    /// <summary>Closes a handle, ignoring errors: for cleanup after another failure.</summary>
    public async Task CloseQuietlyAsync(SftpHandle handle)
    {
        try
        {
            await CloseAsync(handle, CancellationToken.None).ConfigureAwait(false);
        }
        catch (ServiceException)
        {
            // The session is gone or the handle was already invalid; nothing is left to release.
        }
    }

    /// <summary>Flushes an open file to disk on the server (fsync@openssh.com).</summary>
    /// <exception cref="SftpStatusException">The server does not offer the extension.</exception>
    public async Task FsyncAsync(SftpHandle handle, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handle);
        RequireExtension(SftpExtensions.Fsync);
        var (id, packet) = _session.NewRequest(SftpPacketType.Extended);
        packet.WriteString(SftpExtensions.Fsync);
        packet.WriteBytes(handle.Value);
        ExpectOk(await _session.SendAsync(id, packet, cancellationToken).ConfigureAwait(false), "fsync", handle.Path);
    }

    // ---- Attributes -----------------------------------------------------------------------------------------

    /// <summary>The attributes of a path, following symbolic links (SSH_FXP_STAT).</summary>
    public Task<SftpAttributes> StatAsync(string path, CancellationToken cancellationToken) =>
        PathAttributesAsync(SftpPacketType.Stat, "stat", path, cancellationToken);

    /// <summary>The attributes of a path, not following symbolic links (SSH_FXP_LSTAT).</summary>
    public Task<SftpAttributes> LStatAsync(string path, CancellationToken cancellationToken) =>
        PathAttributesAsync(SftpPacketType.LStat, "lstat", path, cancellationToken);

    /// <summary>The attributes of a path, not following symbolic links; <see langword="null"/> when nothing is there.</summary>
    /// <remarks>
    /// "Nothing there" is read from the reply's status, not thrown and caught: an upload asks it of every new file's
    /// target, and an upload of 10,000 small files threw 20,000 exceptions for it (each thrown again across an await).
    /// </remarks>
    public async Task<SftpAttributes?> TryLStatAsync(string path, CancellationToken cancellationToken)
    {
        var response = await SendPathRequestAsync(SftpPacketType.LStat, path, cancellationToken).ConfigureAwait(false);
        return IsNoSuchFile(response) ? null : ExpectAttributes(response, "lstat", path);
    }

    /// <summary>The attributes of an open handle (SSH_FXP_FSTAT).</summary>
    public async Task<SftpAttributes> FStatAsync(SftpHandle handle, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handle);
        var (id, packet) = _session.NewRequest(SftpPacketType.FStat);
        packet.WriteBytes(handle.Value);
        return ExpectAttributes(await _session.SendAsync(id, packet, cancellationToken).ConfigureAwait(false), "fstat", handle.Path);
    }

    /// <summary>Changes attributes of a path (SSH_FXP_SETSTAT): size, mode or times.</summary>
    public async Task SetStatAsync(string path, SftpAttributes attributes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        var (id, packet) = _session.NewRequest(SftpPacketType.SetStat, path.Length + 64);
        packet.WriteString(path);
        attributes.WriteTo(packet);
        ExpectOk(await _session.SendAsync(id, packet, cancellationToken).ConfigureAwait(false), "setstat", path);
    }

    /// <summary>Changes attributes of an open handle (SSH_FXP_FSETSTAT): size, mode or times.</summary>
    public Task FSetStatAsync(SftpHandle handle, SftpAttributes attributes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentNullException.ThrowIfNull(attributes);
        var (id, packet) = _session.NewRequest(SftpPacketType.FSetStat, handle.Value.Length + 64);
        packet.WriteBytes(handle.Value);
        attributes.WriteTo(packet);
        return ExpectOkAsync(_session.SendAsync(id, packet, cancellationToken), "fsetstat", handle.Path);
    }

    private async Task<SftpAttributes> PathAttributesAsync(SftpPacketType type, string operation, string path, CancellationToken cancellationToken) =>
        ExpectAttributes(await SendPathRequestAsync(type, path, cancellationToken).ConfigureAwait(false), operation, path);

    // A request whose only argument is a path (STAT, LSTAT).
    private Task<SftpResponse> SendPathRequestAsync(SftpPacketType type, string path, CancellationToken cancellationToken)
    {
        var (id, packet) = _session.NewRequest(type, path.Length + 32);
        packet.WriteString(path);
        return _session.SendAsync(id, packet, cancellationToken);
    }

    // ---- Directories and names ------------------------------------------------------------------------------

    /// <summary>Lists a directory (OPENDIR, READDIR until EOF, CLOSE), without "." and "..".</summary>
    public async Task<IReadOnlyList<SftpDirectoryEntry>> ReadDirectoryAsync(string path, CancellationToken cancellationToken)
    {
        var (openId, open) = _session.NewRequest(SftpPacketType.OpenDir, path.Length + 32);
        open.WriteString(path);
        var handle = await ExpectHandleAsync(openId, open, "opendir", path, cancellationToken).ConfigureAwait(false);
        var entries = new List<SftpDirectoryEntry>();
        try
        {
            while (true)
            {
                var (id, packet) = _session.NewRequest(SftpPacketType.ReadDir);
                packet.WriteBytes(handle.Value);
                var response = await _session.SendAsync(id, packet, cancellationToken).ConfigureAwait(false);
                if (response.Type == SftpPacketType.Status && StatusCode(response) == SftpStatusCode.Eof) break;
                foreach (var entry in ExpectNames(response, "readdir", path))
                {
                    if (entry.FileName is not ("." or "..")) entries.Add(entry);
                }
            }
        }
        finally
        {
            await CloseQuietlyAsync(handle).ConfigureAwait(false);
        }
        return entries;
    }

    /// <summary>Removes a file (SSH_FXP_REMOVE).</summary>
    public Task RemoveAsync(string path, CancellationToken cancellationToken) =>
        PathStatusAsync(SftpPacketType.Remove, "remove", path, cancellationToken);

    /// <summary>Creates a directory (SSH_FXP_MKDIR); an existing one is an <see cref="SftpStatusException"/> (failure).</summary>
    public async Task MakeDirectoryAsync(string path, SftpAttributes? attributes, CancellationToken cancellationToken)
    {
        var (id, packet) = _session.NewRequest(SftpPacketType.MkDir, path.Length + 32);
        packet.WriteString(path);
        (attributes ?? SftpAttributes.Empty).WriteTo(packet);
        ExpectOk(await _session.SendAsync(id, packet, cancellationToken).ConfigureAwait(false), "mkdir", path);
    }

    /// <summary>Removes an empty directory (SSH_FXP_RMDIR).</summary>
    public Task RemoveDirectoryAsync(string path, CancellationToken cancellationToken) =>
        PathStatusAsync(SftpPacketType.RmDir, "rmdir", path, cancellationToken);

    /// <summary>The canonical absolute form of a path (SSH_FXP_REALPATH); "." gives the session's directory.</summary>
    public async Task<string> RealPathAsync(string path, CancellationToken cancellationToken)
    {
        var (id, packet) = _session.NewRequest(SftpPacketType.RealPath, path.Length + 32);
        packet.WriteString(path);
        var names = ExpectNames(await _session.SendAsync(id, packet, cancellationToken).ConfigureAwait(false), "realpath", path);
        return names.Count == 1 ? names[0].FileName : throw new ServiceException($"The SFTP server answered realpath {path} with {names.Count} names.");
    }

    /// <summary>Renames (SSH_FXP_RENAME); the v3 rename fails if <paramref name="newPath"/> exists.</summary>
    public async Task RenameAsync(string oldPath, string newPath, CancellationToken cancellationToken)
    {
        var (id, packet) = _session.NewRequest(SftpPacketType.Rename, oldPath.Length + newPath.Length + 32);
        packet.WriteString(oldPath);
        packet.WriteString(newPath);
        ExpectOk(await _session.SendAsync(id, packet, cancellationToken).ConfigureAwait(false), "rename", oldPath);
    }

    /// <summary>Renames with rename(2) semantics, atomically replacing an existing target (posix-rename@openssh.com).</summary>
    /// <exception cref="SftpStatusException">The server does not offer the extension.</exception>
    public async Task PosixRenameAsync(string oldPath, string newPath, CancellationToken cancellationToken)
    {
        RequireExtension(SftpExtensions.PosixRename);
        var (id, packet) = _session.NewRequest(SftpPacketType.Extended, oldPath.Length + newPath.Length + 64);
        packet.WriteString(SftpExtensions.PosixRename);
        packet.WriteString(oldPath);
        packet.WriteString(newPath);
        ExpectOk(await _session.SendAsync(id, packet, cancellationToken).ConfigureAwait(false), "posix-rename", oldPath);
    }

    private async Task PathStatusAsync(SftpPacketType type, string operation, string path, CancellationToken cancellationToken)
    {
        var (id, packet) = _session.NewRequest(type, path.Length + 32);
        packet.WriteString(path);
        ExpectOk(await _session.SendAsync(id, packet, cancellationToken).ConfigureAwait(false), operation, path);
    }

    private void RequireExtension(string name)
    {
        if (!HasExtension(name))
            throw new SftpStatusException(SftpStatusCode.OpUnsupported, $"The SFTP server at {_options.Host} does not offer {name}.", isTransient: false);
    }

    // ---- Replies ----------------------------------------------------------------------------------------------

    private async Task<SftpHandle> ExpectHandleAsync(uint id, SftpPacketBuilder packet, string operation, string path, CancellationToken cancellationToken) =>
        ExpectHandle(await _session.SendAsync(id, packet, cancellationToken).ConfigureAwait(false), operation, path);

    private static SftpHandle ExpectHandle(SftpResponse response, string operation, string path)
    {
        if (response.Type == SftpPacketType.Status) ThrowStatus(response, operation, path);
        Expect(response, SftpPacketType.Handle, operation);
        var reader = new SftpPacketReader(response.Body.Span);
        return new SftpHandle(reader.ReadBytes().ToArray(), path);
    }

    private static SftpAttributes ExpectAttributes(SftpResponse response, string operation, string path)
    {
        if (response.Type == SftpPacketType.Status) ThrowStatus(response, operation, path);
        Expect(response, SftpPacketType.Attrs, operation);
        var reader = new SftpPacketReader(response.Body.Span);
        return SftpAttributes.ReadFrom(ref reader);
    }

    private static List<SftpDirectoryEntry> ExpectNames(SftpResponse response, string operation, string path)
    {
        if (response.Type == SftpPacketType.Status) ThrowStatus(response, operation, path);
        Expect(response, SftpPacketType.Name, operation);
        var reader = new SftpPacketReader(response.Body.Span);
        var count = reader.ReadUInt32();
        var names = new List<SftpDirectoryEntry>((int)Math.Min(count, 1024));
        for (var i = 0; i < count; i++)
        {
            var name = reader.ReadString();
            var longName = reader.ReadString();
            names.Add(new SftpDirectoryEntry(name, longName, SftpAttributes.ReadFrom(ref reader)));
        }
        return names;
    }

    private static void ExpectOk(SftpResponse response, string operation, string path)
    {
        Expect(response, SftpPacketType.Status, operation);
        if (StatusCode(response) != SftpStatusCode.Ok) ThrowStatus(response, operation, path);
    }

    private static void Expect(SftpResponse response, SftpPacketType type, string operation)
    {
        if (response.Type != type)
            throw new ServiceException($"The SFTP server answered {operation} with packet type {(byte)response.Type} instead of {type}.");
    }

    private static bool IsNoSuchFile(SftpResponse response) =>
        response.Type == SftpPacketType.Status && StatusCode(response) == SftpStatusCode.NoSuchFile;

    private static SftpStatusCode StatusCode(SftpResponse response) =>
        (SftpStatusCode)new SftpPacketReader(response.Body.Span).ReadUInt32();

    private static void ThrowStatus(SftpResponse response, string operation, string path)
    {
        var reader = new SftpPacketReader(response.Body.Span);
        var code = (SftpStatusCode)reader.ReadUInt32();
        // v3 servers send a message and a language tag; very old ones send neither.
        var message = reader.Remaining >= 4 ? reader.ReadString() : "";
        var text = $"SFTP {operation} {path} failed: {(message.Length > 0 ? message : code.ToString())} ({code}).";
        throw code switch
        {
            SftpStatusCode.NoSuchFile => new RemoteFileNotFoundException(text),
            SftpStatusCode.PermissionDenied or SftpStatusCode.OpUnsupported or SftpStatusCode.BadMessage or SftpStatusCode.Eof =>
                new SftpStatusException(code, text, isTransient: false),
            _ => new SftpStatusException(code, text, isTransient: code is SftpStatusCode.ConnectionLost or SftpStatusCode.NoConnection or SftpStatusCode.Failure),
        };
    }

    /// <summary>Ends the session: closes ssh's input (it exits), or kills it after a grace period.</summary>
    public ValueTask DisposeAsync() => _session.DisposeAsync();
}

/// <summary>The bytes of one READ reply, held in a pooled buffer until disposed; empty at the end of the file.</summary>
internal readonly struct SftpDataBlock : IDisposable
{
    private readonly ReadOnlyMemory<byte> _data;
    private readonly Action? _release;

    internal SftpDataBlock(ReadOnlyMemory<byte> data, Action release)
    {
        _data = data;
        _release = release;
    }

    /// <summary>The bytes read.</summary>
    public ReadOnlyMemory<byte> Memory => _data;

    /// <summary>Gives the buffer back; <see cref="Memory"/> must not be used afterwards.</summary>
    public void Dispose() => _release?.Invoke();
}
