using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Threading.Channels;

namespace Onitu.Drivers.Ssh.Sftp;

/// <summary>
/// The transport under <see cref="SftpClient"/>: the ssh process (<c>ssh -s host sftp</c>), the framing of packets on
/// its pipes, and the dispatch of each reply to the request that carries its id.
/// </summary>
/// <remarks>
/// Thread-safe: any number of requests may be outstanding at once. Requests are queued to one writer thread, which
/// sends whatever accumulated in a single pipe write (many small requests cost one system call); one reader thread
/// completes each request by its id. Large replies come in buffers from the shared array pool. A failed or lost
/// connection fails every waiting request with an <see cref="SshConnectionException"/> carrying ssh's diagnostics.
/// </remarks>
internal sealed class SftpSession : IAsyncDisposable
{
    // OpenSSH's sftp-server caps messages at 256 KiB; leave room for other servers without trusting any length.
    private const int MaxIncomingPacket = 4 * 1024 * 1024;

    private const int StandardErrorTail = 4096;

    // Silence, with requests waiting, beyond which a lost connection counts as a stall rather than a close.
    private static readonly TimeSpan StallSilence = TimeSpan.FromSeconds(2);

    // Replies larger than this (DATA of a read) get pooled buffers, returned once their bytes are copied out.
    private const int PooledReplyThreshold = 4096;

    private const int PipeBufferSize = 256 * 1024;

    private readonly SftpConnectionOptions _options;
    private readonly Process _process;
    private readonly Stream _input;
    private readonly Stream _output;
    private readonly Channel<SftpPacketBuilder> _outgoing = Channel.CreateUnbounded<SftpPacketBuilder>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<uint, PendingReply> _pending = new();
    private readonly TaskCompletionSource<SftpResponse> _version = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly StringBuilder _standardError = new();
    private readonly Task _standardErrorLoop;
    private Task _readLoop = Task.CompletedTask;
    private Task _writeLoop = Task.CompletedTask;
    private volatile Exception? _failure;
    // When the server was last heard from, or when a wait for it began (a request sent while none was pending).
    private long _lastHeard = Stopwatch.GetTimestamp();
    private int _nextId;
    private int _disposed;

    private SftpSession(SftpConnectionOptions options, Process process)
    {
        _options = options;
        _process = process;
        _input = process.StandardInput.BaseStream;
        _output = process.StandardOutput.BaseStream;
        _standardErrorLoop = Task.Factory.StartNew(ReadStandardError, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>Whether the session can still take requests (it has not failed or been closed).</summary>
    public bool IsOpen => _failure is null;

    /// <summary>The ssh process id, for tests that cut the connection.</summary>
    public int SshProcessId => _process.Id;

    /// <summary>How many requests were made on this session, for tests that count round trips.</summary>
    public long RequestCount => (uint)Volatile.Read(ref _nextId);

    /// <summary>Starts ssh and the threads that write requests to it and read its replies.</summary>
    /// <exception cref="DriverException">The ssh executable cannot be started.</exception>
    public static SftpSession Start(SftpConnectionOptions options)
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

        var session = new SftpSession(options, process);
        // Pipe reads block a thread on Unix: the loop gets its own thread instead of starving the pool.
        session._readLoop = Task.Factory.StartNew(session.ReadLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
        session._writeLoop = Task.Factory.StartNew(session.WriteLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return session;
    }

    /// <summary>Sends INIT with <paramref name="protocolVersion"/> and returns the server's VERSION packet.</summary>
    /// <exception cref="SshConnectionException">The server did not answer within the connect timeout, or ssh failed.</exception>
    public async Task<SftpResponse> ExchangeVersionAsync(uint protocolVersion, CancellationToken cancellationToken)
    {
        var init = new SftpPacketBuilder(SftpPacketType.Init, 16);
        init.WriteUInt32(protocolVersion);
        if (!_outgoing.Writer.TryWrite(init)) throw ClosedOrFailed();

        try
        {
            return await _version.Task.WaitAsync(_options.ConnectTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            throw new SshConnectionException(
                $"The SFTP server at {_options.Host} did not answer within {_options.ConnectTimeout.TotalSeconds:0} s. {StandardErrorText()}".TrimEnd(),
                StandardErrorText(), isTransient: true, e);
        }
    }

    /// <summary>A new request of <paramref name="type"/> with the next request id written after its type.</summary>
    public (uint Id, SftpPacketBuilder Packet) NewRequest(SftpPacketType type, int capacity = 64)
    {
        var id = unchecked((uint)Interlocked.Increment(ref _nextId));
        var packet = new SftpPacketBuilder(type, capacity + 16);
        packet.WriteUInt32(id);
        return (id, packet);
    }

    /// <summary>
    /// Queues the request for the writer and returns its reply. Not async: the request is queued (and the caller's
    /// data copied) before this returns, which keeps requests in the order they were made.
    /// </summary>
    public Task<SftpResponse> SendAsync(uint id, SftpPacketBuilder packet, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            packet.Release();
            return Task.FromCanceled<SftpResponse>(cancellationToken);
        }
        var reply = new PendingReply(cancellationToken);
        if (_pending.IsEmpty) Volatile.Write(ref _lastHeard, Stopwatch.GetTimestamp());
        _pending[id] = reply;
        // Registered before the check: a failure that lands after it finds this request and fails it.
        if (_failure is not null || !_outgoing.Writer.TryWrite(packet))
        {
            _pending.TryRemove(id, out _);
            reply.Dispose();
            packet.Release();
            return Task.FromException<SftpResponse>(ClosedOrFailed());
        }
        return reply.Task;
    }

    // A request's reply. A cancelled wait leaves the request registered: its reply is still read and dropped by the
    // loop. The cancellation is registered on the token directly (no WaitAsync wrapper per request: one task and one
    // continuation less for each of the thousands of requests of a small-file sync).
    private sealed class PendingReply : TaskCompletionSource<SftpResponse>, IDisposable
    {
        private readonly CancellationTokenRegistration _cancellation;

        public PendingReply(CancellationToken cancellationToken) : base(TaskCreationOptions.RunContinuationsAsynchronously)
        {
            // Registered before the request is published: whoever completes it finds the registration set.
            if (cancellationToken.CanBeCanceled)
                _cancellation = cancellationToken.UnsafeRegister(static (state, token) => ((PendingReply)state!).TrySetCanceled(token), this);
        }

        /// <summary>Completes the wait with the reply; false when the wait was cancelled (the reply is the caller's to release).</summary>
        public bool Complete(SftpResponse response)
        {
            var completed = TrySetResult(response);
            _cancellation.Dispose();
            return completed;
        }

        public void Fail(Exception failure)
        {
            TrySetException(failure);
            _cancellation.Dispose();
        }

        public void Dispose() => _cancellation.Dispose();
    }

    /// <summary>Why requests fail now: the session's failure, or that it was closed.</summary>
    public Exception ClosedOrFailed() =>
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
                Dispatch(new SftpResponse(body, (int)length, pooled));
            }
        }
        catch (Exception e)
        {
            error = e;
        }
        return FailAsync(error);
    }
#pragma warning restore VSTHRD103

    private void Dispatch(SftpResponse response)
    {
        if (response.Type == SftpPacketType.Version)
        {
            _version.TrySetResult(response);
            return;
        }
        if (response.Length < 5) throw new ServiceException($"The SFTP server sent a packet of type {(byte)response.Type} without a request id.");
        if (!_pending.TryRemove(response.Id, out var reply) || !reply.Complete(response))
            response.Release(); // an answer nobody waits for (any more)
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
            if (_pending.TryRemove(id, out var reply)) reply.Fail(failure);
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
}

/// <summary>One received packet: the body starts with the type byte (then, except for VERSION, the request id).</summary>
internal readonly struct SftpResponse(byte[] buffer, int length, bool pooled)
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
