using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Text;

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
/// Thread-safe: any number of requests may be outstanding at once. One loop reads the replies and completes each
/// request by its id; writes to ssh are serialized. Error statuses become exceptions: no such file is
/// <see cref="RemoteFileNotFoundException"/>, other statuses <see cref="SftpStatusException"/>, a failed or lost
/// connection <see cref="SshConnectionException"/> carrying ssh's diagnostics.
/// </remarks>
public sealed class SftpClient : IAsyncDisposable
{
    /// <summary>The protocol version this client speaks.</summary>
    public const uint ProtocolVersion = 3;

    // OpenSSH's sftp-server caps messages at 256 KiB; leave room for other servers without trusting any length.
    private const int MaxIncomingPacket = 4 * 1024 * 1024;

    // Room for the WRITE header (type, id, handle, offset, data length) inside the server's packet limit.
    private const int WriteOverhead = 1024;

    private const int StandardErrorTail = 4096;

    private readonly SftpConnectionOptions _options;
    private readonly Process _process;
    private readonly Stream _input;
    private readonly Stream _output;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<uint, TaskCompletionSource<Response>> _pending = new();
    private readonly TaskCompletionSource<Response> _version = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly StringBuilder _standardError = new();
    private readonly Task _standardErrorLoop;
    private Task _readLoop = Task.CompletedTask;
    private volatile Exception? _failure;
    private int _nextId;
    private int _disposed;

    private SftpClient(SftpConnectionOptions options, Process process)
    {
        _options = options;
        _process = process;
        _input = process.StandardInput.BaseStream;
        _output = process.StandardOutput.BaseStream;
        _standardErrorLoop = Task.Factory.StartNew(ReadStandardError, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
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

    /// <summary>The ssh process id, for tests that cut the connection.</summary>
    internal int SshProcessId => _process.Id;

    /// <summary>Whether the server announced the extension <paramref name="name"/> (see <see cref="SftpExtensions"/>).</summary>
    public bool HasExtension(string name) => Extensions.ContainsKey(name);

    /// <summary>Starts ssh, negotiates the protocol version and reads the server's limits.</summary>
    /// <exception cref="DriverException">The ssh executable cannot be started.</exception>
    /// <exception cref="SshConnectionException">ssh could not connect or authenticate, or the server did not answer.</exception>
    public static async Task<SftpClient> ConnectAsync(SftpConnectionOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var start = new ProcessStartInfo(options.SshPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (var argument in options.BuildArguments()) start.ArgumentList.Add(argument);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new DriverException($"Could not start '{options.SshPath}'.");
        }
        catch (Win32Exception e)
        {
            throw new DriverException($"Could not start the SSH client '{options.SshPath}': {e.Message}", e);
        }

        var client = new SftpClient(options, process);
        try
        {
            // Pipe reads block a thread on Unix: the loop gets its own thread instead of starving the pool.
            client._readLoop = Task.Factory.StartNew(client.ReadLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
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
        var init = new SftpPacketBuilder(SftpPacketType.Init, 16);
        init.WriteUInt32(ProtocolVersion);
        await WritePacketAsync(init.Finish()).ConfigureAwait(false);

        Response version;
        try
        {
            version = await _version.Task.WaitAsync(_options.ConnectTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            throw new SshConnectionException(
                $"The SFTP server at {_options.Host} did not answer within {_options.ConnectTimeout.TotalSeconds:0} s. {StandardErrorText()}".TrimEnd(),
                StandardErrorText(), isTransient: true, e);
        }

        ParseVersion(version.Body.Span);
        if (ServerVersion < ProtocolVersion)
            throw new SshConnectionException($"The SFTP server at {_options.Host} speaks version {ServerVersion}; version 3 is needed.", "", isTransient: false);

        var requestSize = Math.Max(1024, _options.RequestSize);
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
        var (id, packet) = NewRequest(SftpPacketType.Extended);
        packet.WriteString(SftpExtensions.Limits);
        var response = await SendAsync(id, packet, cancellationToken).ConfigureAwait(false);
        if (response.Type == SftpPacketType.Status) ThrowStatus(response, "limits", "");
        Expect(response, SftpPacketType.ExtendedReply, "limits");
        var reader = new SftpPacketReader(response.Body.Span);
        return new SftpLimits(reader.ReadUInt64(), reader.ReadUInt64(), reader.ReadUInt64(), reader.ReadUInt64());
    }

    // ---- Files ----------------------------------------------------------------------------------------------

    /// <summary>Opens a file (SSH_FXP_OPEN).</summary>
    public async Task<SftpHandle> OpenAsync(string path, SftpOpenFlags flags, SftpAttributes? attributes, CancellationToken cancellationToken)
    {
        var (id, packet) = NewRequest(SftpPacketType.Open, path.Length + 64);
        packet.WriteString(path);
        packet.WriteUInt32((uint)flags);
        (attributes ?? SftpAttributes.Empty).WriteTo(packet);
        return await ExpectHandleAsync(id, packet, "open", path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes a file or directory handle (SSH_FXP_CLOSE).</summary>
    public async Task CloseAsync(SftpHandle handle, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handle);
        var (id, packet) = NewRequest(SftpPacketType.Close);
        packet.WriteBytes(handle.Value);
        ExpectOk(await SendAsync(id, packet, cancellationToken).ConfigureAwait(false), "close", handle.Path);
    }

    /// <summary>One READ request: up to <paramref name="length"/> bytes at <paramref name="offset"/>; empty at the end of the file.</summary>
    public async Task<ReadOnlyMemory<byte>> ReadChunkAsync(SftpHandle handle, long offset, int length, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var (id, packet) = NewRequest(SftpPacketType.Read, handle.Value.Length + 32);
        packet.WriteBytes(handle.Value);
        packet.WriteUInt64((ulong)offset);
        packet.WriteUInt32((uint)length);
        var response = await SendAsync(id, packet, cancellationToken).ConfigureAwait(false);
        if (response.Type == SftpPacketType.Status)
        {
            if (StatusCode(response) == SftpStatusCode.Eof) return ReadOnlyMemory<byte>.Empty;
            ThrowStatus(response, "read", handle.Path);
        }
        Expect(response, SftpPacketType.Data, "read");
        var length32 = BinaryPrimitives.ReadUInt32BigEndian(response.Body.Span);
        if (length32 > (uint)(response.Body.Length - 4) || length32 > (uint)length)
            throw new ServiceException($"The SFTP server sent a malformed DATA reply reading {handle.Path}.");
        return response.Body.Slice(4, (int)length32);
    }

    /// <summary>One WRITE request of <paramref name="data"/> at <paramref name="offset"/>.</summary>
    public async Task WriteChunkAsync(SftpHandle handle, long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var (id, packet) = NewRequest(SftpPacketType.Write, handle.Value.Length + data.Length + 32);
        packet.WriteBytes(handle.Value);
        packet.WriteUInt64((ulong)offset);
        packet.WriteBytes(data.Span);
        ExpectOk(await SendAsync(id, packet, cancellationToken).ConfigureAwait(false), "write", handle.Path);
    }

    /// <summary>
    /// Reads into <paramref name="buffer"/> from <paramref name="offset"/> with up to
    /// <see cref="MaxOutstandingRequests"/> READs of <see cref="MaxReadSize"/> in flight; short replies are
    /// re-requested. Returns the bytes read: fewer than the buffer's length only at the end of the file.
    /// </summary>
    public async Task<int> ReadAsync(SftpHandle handle, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (buffer.IsEmpty) return 0;
        var size = MaxReadSize;
        var count = (buffer.Length + size - 1) / size;
        var filled = new int[count];
        var endOfFile = false;
        await RunPipelinedAsync(count, () => endOfFile, async i =>
        {
            var region = buffer.Slice(i * size, Math.Min(size, buffer.Length - (i * size)));
            var done = 0;
            while (done < region.Length)
            {
                var data = await ReadChunkAsync(handle, offset + (i * (long)size) + done, region.Length - done, cancellationToken).ConfigureAwait(false);
                if (data.IsEmpty) { endOfFile = true; break; }
                data.CopyTo(region[done..]);
                done += data.Length;
            }
            filled[i] = done;
        }, cancellationToken).ConfigureAwait(false);

        var total = 0;
        for (var i = 0; i < count; i++)
        {
            total += filled[i];
            if (filled[i] < Math.Min(size, buffer.Length - (i * size))) break;
        }
        return total;
    }

    /// <summary>
    /// Writes <paramref name="data"/> at <paramref name="offset"/> with up to <see cref="MaxOutstandingRequests"/>
    /// WRITEs of <see cref="MaxWriteSize"/> in flight; returns when the server acknowledged them all.
    /// </summary>
    public async Task WriteAsync(SftpHandle handle, long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (data.IsEmpty) return;
        var size = MaxWriteSize;
        var count = (data.Length + size - 1) / size;
        await RunPipelinedAsync(count, () => false, i =>
            WriteChunkAsync(handle, offset + (i * (long)size), data.Slice(i * size, Math.Min(size, data.Length - (i * size))), cancellationToken),
            cancellationToken).ConfigureAwait(false);
    }

    // Runs parts 0..count-1 in order with at most MaxOutstandingRequests in flight; stops issuing after a failure
    // or when stop() says so, and always waits for every issued part (they write into the caller's buffer).
    private async Task RunPipelinedAsync(int count, Func<bool> stop, Func<int, Task> part, CancellationToken cancellationToken)
    {
        using var window = new SemaphoreSlim(MaxOutstandingRequests);
        var tasks = new List<Task>(Math.Min(count, 1024));
        var failed = false;
        Exception? issueError = null;
        try
        {
            for (var i = 0; i < count && !failed && !stop(); i++)
            {
                await window.WaitAsync(cancellationToken).ConfigureAwait(false);
                var index = i;
                tasks.Add(Task.Run(async () =>
                {
                    try { await part(index).ConfigureAwait(false); }
                    catch { failed = true; throw; }
                    finally { window.Release(); }
                }, CancellationToken.None));
            }
        }
        catch (Exception e)
        {
            issueError = e;
        }

        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch when (issueError is not null)
        {
            // The issuing error (a cancellation) is the one to report.
        }
        if (issueError is not null) ExceptionDispatchInfo.Throw(issueError);
    }

    /// <summary>Reads a whole file (OPEN, pipelined READs, CLOSE).</summary>
    public async Task<byte[]> ReadAllBytesAsync(string path, CancellationToken cancellationToken)
    {
        var handle = await OpenAsync(path, SftpOpenFlags.Read, null, cancellationToken).ConfigureAwait(false);
        try
        {
            var attributes = await FStatAsync(handle, cancellationToken).ConfigureAwait(false);
            var content = new MemoryStream();
            var buffer = new byte[Math.Max(MaxReadSize, (int)Math.Min(attributes.Size ?? 0, 16 * 1024 * 1024)) + 1];
            long offset = 0;
            while (true)
            {
                var read = await ReadAsync(handle, offset, buffer, cancellationToken).ConfigureAwait(false);
                content.Write(buffer, 0, read);
                offset += read;
                if (read < buffer.Length) return content.ToArray();
            }
        }
        finally
        {
            await CloseQuietlyAsync(handle).ConfigureAwait(false);
        }
    }

    /// <summary>Creates or truncates a file and writes <paramref name="content"/> (OPEN, pipelined WRITEs, CLOSE).</summary>
    public async Task WriteAllBytesAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var handle = await OpenAsync(path, SftpOpenFlags.Write | SftpOpenFlags.Create | SftpOpenFlags.Truncate, null, cancellationToken).ConfigureAwait(false);
        var closed = false;
        try
        {
            await WriteAsync(handle, 0, content, cancellationToken).ConfigureAwait(false);
            closed = true;
            await CloseAsync(handle, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (!closed) await CloseQuietlyAsync(handle).ConfigureAwait(false);
        }
    }

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
        var (id, packet) = NewRequest(SftpPacketType.Extended);
        packet.WriteString(SftpExtensions.Fsync);
        packet.WriteBytes(handle.Value);
        ExpectOk(await SendAsync(id, packet, cancellationToken).ConfigureAwait(false), "fsync", handle.Path);
    }

    // ---- Attributes -----------------------------------------------------------------------------------------

    /// <summary>The attributes of a path, following symbolic links (SSH_FXP_STAT).</summary>
    public Task<SftpAttributes> StatAsync(string path, CancellationToken cancellationToken) =>
        PathAttributesAsync(SftpPacketType.Stat, "stat", path, cancellationToken);

    /// <summary>The attributes of a path, not following symbolic links (SSH_FXP_LSTAT).</summary>
    public Task<SftpAttributes> LStatAsync(string path, CancellationToken cancellationToken) =>
        PathAttributesAsync(SftpPacketType.LStat, "lstat", path, cancellationToken);

    /// <summary>The attributes of an open handle (SSH_FXP_FSTAT).</summary>
    public async Task<SftpAttributes> FStatAsync(SftpHandle handle, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handle);
        var (id, packet) = NewRequest(SftpPacketType.FStat);
        packet.WriteBytes(handle.Value);
        return ExpectAttributes(await SendAsync(id, packet, cancellationToken).ConfigureAwait(false), "fstat", handle.Path);
    }

    /// <summary>Changes attributes of a path (SSH_FXP_SETSTAT): size, mode or times.</summary>
    public async Task SetStatAsync(string path, SftpAttributes attributes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        var (id, packet) = NewRequest(SftpPacketType.SetStat, path.Length + 64);
        packet.WriteString(path);
        attributes.WriteTo(packet);
        ExpectOk(await SendAsync(id, packet, cancellationToken).ConfigureAwait(false), "setstat", path);
    }

    private async Task<SftpAttributes> PathAttributesAsync(SftpPacketType type, string operation, string path, CancellationToken cancellationToken)
    {
        var (id, packet) = NewRequest(type, path.Length + 32);
        packet.WriteString(path);
        return ExpectAttributes(await SendAsync(id, packet, cancellationToken).ConfigureAwait(false), operation, path);
    }

    // ---- Directories and names ------------------------------------------------------------------------------

    /// <summary>Lists a directory (OPENDIR, READDIR until EOF, CLOSE), without "." and "..".</summary>
    public async Task<IReadOnlyList<SftpDirectoryEntry>> ReadDirectoryAsync(string path, CancellationToken cancellationToken)
    {
        var (openId, open) = NewRequest(SftpPacketType.OpenDir, path.Length + 32);
        open.WriteString(path);
        var handle = await ExpectHandleAsync(openId, open, "opendir", path, cancellationToken).ConfigureAwait(false);
        var entries = new List<SftpDirectoryEntry>();
        try
        {
            while (true)
            {
                var (id, packet) = NewRequest(SftpPacketType.ReadDir);
                packet.WriteBytes(handle.Value);
                var response = await SendAsync(id, packet, cancellationToken).ConfigureAwait(false);
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
        var (id, packet) = NewRequest(SftpPacketType.MkDir, path.Length + 32);
        packet.WriteString(path);
        (attributes ?? SftpAttributes.Empty).WriteTo(packet);
        ExpectOk(await SendAsync(id, packet, cancellationToken).ConfigureAwait(false), "mkdir", path);
    }

    /// <summary>Removes an empty directory (SSH_FXP_RMDIR).</summary>
    public Task RemoveDirectoryAsync(string path, CancellationToken cancellationToken) =>
        PathStatusAsync(SftpPacketType.RmDir, "rmdir", path, cancellationToken);

    /// <summary>The canonical absolute form of a path (SSH_FXP_REALPATH); "." gives the session's directory.</summary>
    public async Task<string> RealPathAsync(string path, CancellationToken cancellationToken)
    {
        var (id, packet) = NewRequest(SftpPacketType.RealPath, path.Length + 32);
        packet.WriteString(path);
        var names = ExpectNames(await SendAsync(id, packet, cancellationToken).ConfigureAwait(false), "realpath", path);
        return names.Count == 1 ? names[0].FileName : throw new ServiceException($"The SFTP server answered realpath {path} with {names.Count} names.");
    }

    /// <summary>Renames (SSH_FXP_RENAME); the v3 rename fails if <paramref name="newPath"/> exists.</summary>
    public async Task RenameAsync(string oldPath, string newPath, CancellationToken cancellationToken)
    {
        var (id, packet) = NewRequest(SftpPacketType.Rename, oldPath.Length + newPath.Length + 32);
        packet.WriteString(oldPath);
        packet.WriteString(newPath);
        ExpectOk(await SendAsync(id, packet, cancellationToken).ConfigureAwait(false), "rename", oldPath);
    }

    /// <summary>Renames with rename(2) semantics, atomically replacing an existing target (posix-rename@openssh.com).</summary>
    /// <exception cref="SftpStatusException">The server does not offer the extension.</exception>
    public async Task PosixRenameAsync(string oldPath, string newPath, CancellationToken cancellationToken)
    {
        RequireExtension(SftpExtensions.PosixRename);
        var (id, packet) = NewRequest(SftpPacketType.Extended, oldPath.Length + newPath.Length + 64);
        packet.WriteString(SftpExtensions.PosixRename);
        packet.WriteString(oldPath);
        packet.WriteString(newPath);
        ExpectOk(await SendAsync(id, packet, cancellationToken).ConfigureAwait(false), "posix-rename", oldPath);
    }

    private async Task PathStatusAsync(SftpPacketType type, string operation, string path, CancellationToken cancellationToken)
    {
        var (id, packet) = NewRequest(type, path.Length + 32);
        packet.WriteString(path);
        ExpectOk(await SendAsync(id, packet, cancellationToken).ConfigureAwait(false), operation, path);
    }

    private void RequireExtension(string name)
    {
        if (!HasExtension(name))
            throw new SftpStatusException(SftpStatusCode.OpUnsupported, $"The SFTP server at {_options.Host} does not offer {name}.", isTransient: false);
    }

    // ---- Replies ----------------------------------------------------------------------------------------------

    private async Task<SftpHandle> ExpectHandleAsync(uint id, SftpPacketBuilder packet, string operation, string path, CancellationToken cancellationToken)
    {
        var response = await SendAsync(id, packet, cancellationToken).ConfigureAwait(false);
        if (response.Type == SftpPacketType.Status) ThrowStatus(response, operation, path);
        Expect(response, SftpPacketType.Handle, operation);
        var reader = new SftpPacketReader(response.Body.Span);
        return new SftpHandle(reader.ReadBytes().ToArray(), path);
    }

    private static SftpAttributes ExpectAttributes(Response response, string operation, string path)
    {
        if (response.Type == SftpPacketType.Status) ThrowStatus(response, operation, path);
        Expect(response, SftpPacketType.Attrs, operation);
        var reader = new SftpPacketReader(response.Body.Span);
        return SftpAttributes.ReadFrom(ref reader);
    }

    private static List<SftpDirectoryEntry> ExpectNames(Response response, string operation, string path)
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

    private static void ExpectOk(Response response, string operation, string path)
    {
        Expect(response, SftpPacketType.Status, operation);
        if (StatusCode(response) != SftpStatusCode.Ok) ThrowStatus(response, operation, path);
    }

    private static void Expect(Response response, SftpPacketType type, string operation)
    {
        if (response.Type != type)
            throw new ServiceException($"The SFTP server answered {operation} with packet type {(byte)response.Type} instead of {type}.");
    }

    private static SftpStatusCode StatusCode(Response response) =>
        (SftpStatusCode)new SftpPacketReader(response.Body.Span).ReadUInt32();

    private static void ThrowStatus(Response response, string operation, string path)
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

    // ---- Transport --------------------------------------------------------------------------------------------

    private (uint Id, SftpPacketBuilder Packet) NewRequest(SftpPacketType type, int capacity = 64)
    {
        var id = unchecked((uint)Interlocked.Increment(ref _nextId));
        var packet = new SftpPacketBuilder(type, capacity + 16);
        packet.WriteUInt32(id);
        return (id, packet);
    }

    private async Task<Response> SendAsync(uint id, SftpPacketBuilder packet, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var reply = new TaskCompletionSource<Response>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = reply;
        if (_failure is { } failure)
        {
            _pending.TryRemove(id, out _);
            ExceptionDispatchInfo.Throw(failure);
        }
        await WritePacketAsync(packet.Finish()).ConfigureAwait(false);
        // A cancelled wait leaves the request registered: its reply is still read and dropped by the loop.
        return await reply.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task WritePacketAsync(ReadOnlyMemory<byte> packet)
    {
        // Not cancellable once started: half a packet would desynchronize the session.
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_failure is { } failure) ExceptionDispatchInfo.Throw(failure);
            await _input.WriteAsync(packet).ConfigureAwait(false);
            await _input.FlushAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // ssh is gone: the read loop sees the end of its output and explains why; wait for that explanation.
            await Task.WhenAny(_readLoop, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
            throw _failure ?? new SshConnectionException($"The SSH connection to {_options.Host} was lost.", StandardErrorText(), isTransient: true, e);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private Task ReadLoop()
    {
        var header = new byte[4];
        Exception? error = null;
        try
        {
            while (true)
            {
                if (_output.ReadAtLeast(header, 4, throwOnEndOfStream: false) < 4) break;
                var length = BinaryPrimitives.ReadUInt32BigEndian(header);
                if (length is < 1 or > MaxIncomingPacket)
                    throw new ServiceException($"The SFTP server sent a packet of {length} bytes; the session is out of step.");
                var body = new byte[length];
                _output.ReadExactly(body);
                Dispatch(body);
            }
        }
        catch (Exception e)
        {
            error = e;
        }
        return FailAsync(error);
    }

    private void Dispatch(byte[] body)
    {
        var type = (SftpPacketType)body[0];
        if (type == SftpPacketType.Version)
        {
            _version.TrySetResult(new Response(type, body.AsMemory(1)));
            return;
        }
        if (body.Length < 5) throw new ServiceException($"The SFTP server sent a packet of type {(byte)type} without a request id.");
        var id = BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(1));
        if (_pending.TryRemove(id, out var reply)) reply.TrySetResult(new Response(type, body.AsMemory(5)));
    }

    // The session ended (ssh exited, the pipe broke, or a malformed packet): fail every waiting request with ssh's
    // explanation.
    private async Task FailAsync(Exception? cause)
    {
        Exception failure;
        if (Volatile.Read(ref _disposed) != 0)
        {
            failure = new SshConnectionException($"The SFTP session to {_options.Host} was closed.", "", isTransient: true, cause);
        }
        else if (cause is ServiceException)
        {
            failure = cause;
        }
        else
        {
            using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
            {
                try { await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { /* still running: report what we have */ }
            }
            await Task.WhenAny(_standardErrorLoop, Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
            var standardError = StandardErrorText();
            var exit = _process.HasExited ? $"ssh exited with code {_process.ExitCode}" : "ssh closed its output";
            var detail = standardError.Length > 0 ? $"{exit}: {standardError}" : exit + ".";
            failure = new SshConnectionException(
                $"The SSH connection to {_options.Host} failed or was lost ({detail})",
                standardError, isTransient: !SshConnectionException.IsPermanent(standardError), cause);
        }

        Interlocked.CompareExchange(ref _failure, failure, null);
        failure = _failure!;
        _version.TrySetException(failure);
        foreach (var id in _pending.Keys)
        {
            if (_pending.TryRemove(id, out var reply)) reply.TrySetException(failure);
        }
    }

    private void ReadStandardError()
    {
        try
        {
            while (_process.StandardError.ReadLine() is { } line)
            {
                lock (_standardError)
                {
                    if (_standardError.Length > 0) _standardError.Append('\n');
                    _standardError.Append(line.TrimEnd('\r'));
                    if (_standardError.Length > StandardErrorTail) _standardError.Remove(0, _standardError.Length - StandardErrorTail);
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The process is gone; what was read is kept.
        }
    }

    private string StandardErrorText()
    {
        lock (_standardError) return _standardError.ToString().Trim();
    }

    /// <summary>Ends the session: closes ssh's input (it exits), or kills it after a grace period.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Interlocked.CompareExchange(ref _failure,
            new SshConnectionException($"The SFTP session to {_options.Host} was closed.", "", isTransient: true), null);
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            _input.Dispose();
        }
        catch (IOException)
        {
            // Already broken.
        }
        finally
        {
            _writeLock.Release();
        }

        using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            try
            {
                await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                try { _process.Kill(entireProcessTree: true); }
                catch (InvalidOperationException) { /* exited meanwhile */ }
            }
        }
        await Task.WhenAny(Task.WhenAll(_readLoop, _standardErrorLoop), Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
        _process.Dispose();
        // _writeLock is not disposed: a request racing the disposal must see the closed-session error, not ObjectDisposedException.
    }

    private readonly record struct Response(SftpPacketType Type, ReadOnlyMemory<byte> Body);
}
