using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Text;
using System.Threading.Channels;

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
/// Thread-safe: any number of requests may be outstanding at once. Requests are queued to one writer thread, which
/// sends whatever accumulated in a single pipe write (many small requests cost one system call); one reader thread
/// completes each request by its id. Large buffers come from the shared array pool. Error statuses become exceptions: no such file is
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

    // Silence, with requests waiting, beyond which a lost connection counts as a stall rather than a close.
    private static readonly TimeSpan StallSilence = TimeSpan.FromSeconds(2);

    // Replies larger than this (DATA of a read) get pooled buffers, returned once their bytes are copied out.
    private const int PooledReplyThreshold = 4096;

    private const int PipeBufferSize = 256 * 1024;

    // The request size used when the server announces its limits and the options leave the size open; the limits
    // lower it further (OpenSSH accepts 255 KiB, like its own sftp client uses).
    private const int MaxAutomaticRequestSize = 256 * 1024;

    private readonly SftpConnectionOptions _options;
    private readonly Process _process;
    private readonly Stream _input;
    private readonly Stream _output;
    private readonly Channel<SftpPacketBuilder> _outgoing = Channel.CreateUnbounded<SftpPacketBuilder>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<uint, TaskCompletionSource<Response>> _pending = new();
    private readonly TaskCompletionSource<Response> _version = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly StringBuilder _standardError = new();
    private readonly Task _standardErrorLoop;
    private Task _readLoop = Task.CompletedTask;
    private Task _writeLoop = Task.CompletedTask;
    private volatile Exception? _failure;
    // When the server was last heard from, or when a wait for it began (a request sent while none was pending).
    private long _lastHeard = Stopwatch.GetTimestamp();
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

    /// <summary>Whether the session can still take requests (it has not failed or been closed).</summary>
    public bool IsOpen => _failure is null;

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
            client._writeLoop = Task.Factory.StartNew(client.WriteLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
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
        if (!_outgoing.Writer.TryWrite(init)) throw ClosedOrFailed();

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
        var (id, packet) = NewRequest(SftpPacketType.Read, handle.Value.Length + 32);
        packet.WriteBytes(handle.Value);
        packet.WriteUInt64((ulong)offset);
        packet.WriteUInt32((uint)length);
        var response = await SendAsync(id, packet, cancellationToken).ConfigureAwait(false);
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
        var (id, packet) = NewRequest(SftpPacketType.Write, handle.Value.Length + data.Length + 32);
        packet.WriteBytes(handle.Value);
        packet.WriteUInt64((ulong)offset);
        packet.WriteBytes(data.Span);
        return ExpectOkAsync(SendAsync(id, packet, cancellationToken), "write", handle.Path);
    }

    private static async Task ExpectOkAsync(Task<Response> reply, string operation, string path) =>
        ExpectOk(await reply.ConfigureAwait(false), operation, path);

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
        var parts = new Task<int>[count];
        var issued = 0;
        try
        {
            for (; issued < count; issued++)
            {
                // The window is full: the oldest part must finish first; a short one means the end of the file.
                if (issued >= MaxOutstandingRequests && await parts[issued - MaxOutstandingRequests].ConfigureAwait(false) < size) break;
                var region = buffer.Slice(issued * size, Math.Min(size, buffer.Length - (issued * size)));
                parts[issued] = ReadRegionAsync(handle, offset + (issued * (long)size), region, cancellationToken);
            }
        }
        finally
        {
            // Every issued part writes into the caller's buffer: none may outlive this call.
            await Task.WhenAll(parts.Take(issued)).WhenSettled().ConfigureAwait(false);
        }

        var total = 0;
        for (var i = 0; i < issued; i++)
        {
            var filled = await parts[i].ConfigureAwait(false);
            total += filled;
            if (filled < Math.Min(size, buffer.Length - (i * size))) break;
        }
        return total;
    }

    // Fills one region, re-requesting after short replies; returns less than its length only at the end of the file.
    private async Task<int> ReadRegionAsync(SftpHandle handle, long offset, Memory<byte> region, CancellationToken cancellationToken)
    {
        var done = 0;
        while (done < region.Length)
        {
            var read = await ReadChunkAsync(handle, offset + done, region[done..], cancellationToken).ConfigureAwait(false);
            if (read == 0) break;
            done += read;
        }
        return done;
    }

    /// <summary>
    /// Writes <paramref name="data"/> at <paramref name="offset"/> with up to <see cref="MaxOutstandingRequests"/>
    /// WRITEs of <see cref="MaxWriteSize"/> in flight; returns when the server acknowledged them all.
    /// </summary>
    public async Task WriteAsync(SftpHandle handle, long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var size = MaxWriteSize;
        var window = new Queue<Task>();
        try
        {
            for (var at = 0; at < data.Length; at += size)
            {
                if (window.Count >= MaxOutstandingRequests) await window.Dequeue().ConfigureAwait(false);
                window.Enqueue(WriteChunkAsync(handle, offset + at, data.Slice(at, Math.Min(size, data.Length - at)), cancellationToken));
            }
            while (window.Count > 0) await window.Dequeue().ConfigureAwait(false);
        }
        finally
        {
            await Task.WhenAll(window).WhenSettled().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Writes everything <paramref name="source"/> yields from <paramref name="offset"/> on, keeping up to
    /// <see cref="MaxOutstandingRequests"/> WRITEs in flight while the source is read: the pipe to the server never
    /// runs dry between buffers. Returns the bytes written once the server acknowledged them all.
    /// </summary>
    public async Task<long> WriteFromStreamAsync(SftpHandle handle, long offset, Stream source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var size = MaxWriteSize;
        // One buffer is enough: each request copies its bytes before WriteChunkAsync returns.
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        var window = new Queue<Task>();
        long written = 0;
        try
        {
            while (true)
            {
                var read = await source.ReadAtLeastAsync(buffer.AsMemory(0, size), size, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                if (read == 0) break;
                if (window.Count >= MaxOutstandingRequests) await window.Dequeue().ConfigureAwait(false);
                window.Enqueue(WriteChunkAsync(handle, offset + written, buffer.AsMemory(0, read), cancellationToken));
                written += read;
                if (read < size) break;
            }
            while (window.Count > 0) await window.Dequeue().ConfigureAwait(false);
            return written;
        }
        finally
        {
            await Task.WhenAll(window).WhenSettled().ConfigureAwait(false);
            ArrayPool<byte>.Shared.Return(buffer);
        }
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
                await content.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
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

    /// <summary>The attributes of a path, not following symbolic links; <see langword="null"/> when nothing is there.</summary>
    public async Task<SftpAttributes?> TryLStatAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            return await LStatAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (RemoteFileNotFoundException)
        {
            return null;
        }
    }

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

    /// <summary>Changes attributes of an open handle (SSH_FXP_FSETSTAT): size, mode or times.</summary>
    public Task FSetStatAsync(SftpHandle handle, SftpAttributes attributes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentNullException.ThrowIfNull(attributes);
        var (id, packet) = NewRequest(SftpPacketType.FSetStat, handle.Value.Length + 64);
        packet.WriteBytes(handle.Value);
        attributes.WriteTo(packet);
        return ExpectOkAsync(SendAsync(id, packet, cancellationToken), "fsetstat", handle.Path);
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

    // Queues the request for the writer and returns its reply. Not async: the request is queued (and the caller's
    // data copied) before this returns, which keeps requests in the order they were made.
    private Task<Response> SendAsync(uint id, SftpPacketBuilder packet, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            packet.Release();
            return Task.FromCanceled<Response>(cancellationToken);
        }
        var reply = new TaskCompletionSource<Response>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_pending.IsEmpty) Volatile.Write(ref _lastHeard, Stopwatch.GetTimestamp());
        _pending[id] = reply;
        // Registered before the check: a failure that lands after it finds this request and fails it.
        if (_failure is not null || !_outgoing.Writer.TryWrite(packet))
        {
            _pending.TryRemove(id, out _);
            packet.Release();
            return Task.FromException<Response>(ClosedOrFailed());
        }
        // A cancelled wait leaves the request registered: its reply is still read and dropped by the loop.
        return cancellationToken.CanBeCanceled ? reply.Task.WaitAsync(cancellationToken) : reply.Task;
    }

    private Exception ClosedOrFailed() =>
        _failure ?? new SshConnectionException($"The SFTP session to {_options.Host} was closed.", "", isTransient: true);

    // Sends queued requests; everything that accumulated while the previous write ran goes out in one pipe write.
    private void WriteLoop()
    {
        var reader = _outgoing.Reader;
        try
        {
            using var output = new BufferedStream(_input, PipeBufferSize);
            while (true)
            {
                while (reader.TryRead(out var packet))
                {
                    try
                    {
                        output.Write(packet.Finish().Span);
                    }
                    finally
                    {
                        packet.Release();
                    }
                }
                output.Flush();
                // Blocking is right here: this is the writer's own thread (LongRunning), which has nothing else to do
                // and whose wait no other thread needs to run (the channel is completed or written by any thread).
#pragma warning disable VSTHRD002 // dedicated thread, see above
                if (!reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult()) break;
#pragma warning restore VSTHRD002
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // ssh is gone: the read loop sees the end of its output and explains why; in case it does not, fail
            // the session here (the first explanation wins).
            _outgoing.Writer.TryComplete();
            _ = Task.Run(async () =>
            {
                await Task.WhenAny(_readLoop, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
                await FailAsync(e).ConfigureAwait(false);
            });
        }
        finally
        {
            while (reader.TryRead(out var unsent)) unsent.Release();
        }
    }

    // Runs on its own thread (LongRunning): blocking reads of ssh's output are what it is for, and they take no
    // thread from the pool.
#pragma warning disable VSTHRD103 // synchronous reads on the dedicated reader thread
    private Task ReadLoop()
    {
        var header = new byte[4];
        Exception? error = null;
        try
        {
            using var input = new BufferedStream(_output, PipeBufferSize);
            while (true)
            {
                if (input.ReadAtLeast(header, 4, throwOnEndOfStream: false) < 4) break;
                var length = BinaryPrimitives.ReadUInt32BigEndian(header);
                if (length is < 1 or > MaxIncomingPacket)
                    throw new ServiceException($"The SFTP server sent a packet of {length} bytes; the session is out of step.");
                var pooled = length > PooledReplyThreshold;
                var body = pooled ? ArrayPool<byte>.Shared.Rent((int)length) : new byte[length];
                input.ReadExactly(body, 0, (int)length);
                Volatile.Write(ref _lastHeard, Stopwatch.GetTimestamp());
                Dispatch(new Response(body, (int)length, pooled));
            }
        }
        catch (Exception e)
        {
            error = e;
        }
        return FailAsync(error);
    }
#pragma warning restore VSTHRD103

    private void Dispatch(Response response)
    {
        if (response.Type == SftpPacketType.Version)
        {
            _version.TrySetResult(response);
            return;
        }
        if (response.Length < 5) throw new ServiceException($"The SFTP server sent a packet of type {(byte)response.Type} without a request id.");
        if (_pending.TryRemove(response.Id, out var reply)) reply.TrySetResult(response);
        else response.Release(); // an answer nobody waits for
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
            // Requests waiting while nothing came back for a while: the link stalled (ssh's keep-alives gave up).
            var silence = Stopwatch.GetElapsedTime(Volatile.Read(ref _lastHeard));
            var waiting = !_pending.IsEmpty;
            using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
            {
                try { await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { /* still running: report what we have */ }
            }
            // ssh's last words (why it gave up: "Timeout, server … not responding") decide between a stall and a lost
            // connection. Once ssh has exited its error pipe is closed and the reader ends by itself: wait for it
            // (a busy machine may take a few seconds to get there); while ssh still runs, do not wait long.
            await Task.WhenAny(_standardErrorLoop, Task.Delay(TimeSpan.FromSeconds(_process.HasExited ? 15 : 2))).ConfigureAwait(false);
            var standardError = StandardErrorText();
            var exit = _process.HasExited ? $"ssh exited with code {_process.ExitCode}" : "ssh closed its output";
            var detail = standardError.Length > 0 ? $"{exit}: {SshConnectionException.Reduce(standardError)}" : exit + ".";
            var stalled = standardError.Contains("Timeout, server", StringComparison.Ordinal) || (waiting && silence >= StallSilence);
            failure = new SshConnectionException(
                stalled
                    ? $"The SSH connection to {_options.Host} stalled: nothing received for {silence.TotalSeconds:0} s while requests waited ({detail})"
                    : $"The SSH connection to {_options.Host} failed or was lost ({detail})",
                standardError, isTransient: !SshConnectionException.IsPermanent(standardError), cause) { IsStall = stalled };
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
        // The writer sends what is queued, then ends; closing ssh's input makes it exit.
        _outgoing.Writer.TryComplete();
        await Task.WhenAny(_writeLoop, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
        try
        {
            _input.Dispose();
        }
        catch (IOException)
        {
            // Already broken.
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
    }

    /// <summary>One received packet: the body starts with the type byte (then, except for VERSION, the request id).</summary>
    private readonly struct Response(byte[] buffer, int length, bool pooled)
    {
        public SftpPacketType Type => (SftpPacketType)buffer[0];

        public uint Id => BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(1));

        public int Length => length;

        /// <summary>What follows the type (VERSION) or the request id (every other reply).</summary>
        public ReadOnlyMemory<byte> Body => Type == SftpPacketType.Version ? buffer.AsMemory(1, length - 1) : buffer.AsMemory(5, length - 5);

        /// <summary>Gives a pooled buffer back; the response must not be used afterwards.</summary>
        public void Release()
        {
            if (pooled) ArrayPool<byte>.Shared.Return(buffer);
        }
    }
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
