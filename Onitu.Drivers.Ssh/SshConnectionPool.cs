using Onitu.Drivers.Ssh.Sftp;

namespace Onitu.Drivers.Ssh;

/// <summary>
/// The SFTP sessions of one service: a fixed number of slots handed out in turn, each connected on first use and
/// dropped when its connection is lost, so that the next call reconnects.
/// </summary>
/// <param name="options">How to run ssh.</param>
/// <param name="size">How many sessions to keep.</param>
/// <param name="initialize">Runs once, on the first session connected, before any session is handed out.</param>
internal sealed class SshConnectionPool(SftpConnectionOptions options, int size, Func<SftpClient, CancellationToken, Task> initialize) : IAsyncDisposable
{
    private readonly SftpClient?[] _clients = new SftpClient?[size];
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private DriverException? _refused;
    private volatile bool _initialized;
    private int _next;
    private int _closed;
    private int _disposed;

    /// <summary>The ssh process ids of the open connections, for tests that cut them.</summary>
    public IReadOnlyList<int> ProcessIds => [.. _clients.OfType<SftpClient>().Select(c => c.SshProcessId)];

    /// <summary>How many requests the open connections carried, for tests that count round trips.</summary>
    public long RequestCount => _clients.OfType<SftpClient>().Sum(c => c.RequestCount);

    /// <summary>A connected session, in turn.</summary>
    /// <exception cref="DriverException">The server refused the login or host key (tried once, then refused at once).</exception>
    public async Task<SftpClient> ClientAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _closed) != 0, typeof(SshDriver));
        var slot = (int)((uint)Interlocked.Increment(ref _next) % (uint)_clients.Length);
        if (Volatile.Read(ref _clients[slot]) is { } ready && _initialized) return ready;
        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // A refused login or host key is tried once: every later call gets the same refusal without running ssh
            // (a server with fail2ban bans a client that keeps knocking with a wrong key).
            if (_refused is not null) throw _refused;
            var client = _clients[slot];
            if (client is null)
            {
                try
                {
                    client = await SftpClient.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
                }
                catch (SshConnectionException e) when (!e.IsTransient)
                {
                    _refused = new DriverException($"{e.Message} Not tried again until the setup is fixed and the service restarted.", e);
                    throw _refused;
                }
                Volatile.Write(ref _clients[slot], client);
            }
            if (!_initialized)
            {
                await initialize(client, cancellationToken).ConfigureAwait(false);
                _initialized = true;
            }
            return client;
        }
        finally
        {
            _connectLock.Release();
        }
    }

    /// <summary>Runs an SFTP operation; a lost connection is dropped so that the next call reconnects.</summary>
    public async Task<T> RunAsync<T>(Func<SftpClient, Task<T>> operation, CancellationToken cancellationToken)
    {
        var client = await ClientAsync(cancellationToken).ConfigureAwait(false);
        return await RunOnAsync(client, operation).ConfigureAwait(false);
    }

    /// <inheritdoc cref="RunAsync{T}"/>
    public Task RunAsync(Func<SftpClient, Task> operation, CancellationToken cancellationToken) =>
        RunAsync(async c => { await operation(c).ConfigureAwait(false); return true; }, cancellationToken);

    /// <summary>Runs an SFTP operation on one given session (one holding an open handle).</summary>
    public async Task<T> RunOnAsync<T>(SftpClient client, Func<SftpClient, Task<T>> operation)
    {
        try
        {
            return await operation(client).ConfigureAwait(false);
        }
        catch (SshConnectionException)
        {
            Drop(client);
            throw;
        }
    }

    /// <summary>Forgets a session whose connection was lost (and closes it).</summary>
    public void Drop(SftpClient client)
    {
        for (var i = 0; i < _clients.Length; i++)
        {
            if (Interlocked.CompareExchange(ref _clients[i], null, client) == client)
                _ = client.DisposeAsync().AsTask();
        }
    }

    /// <summary>Hands out no session any more (the driver is closing); those handed out keep working until disposed.</summary>
    public void Close() => Volatile.Write(ref _closed, 1);

    /// <summary>Closes every session.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Close();
        for (var i = 0; i < _clients.Length; i++)
        {
            if (Interlocked.Exchange(ref _clients[i], null) is { } client)
                await client.DisposeAsync().ConfigureAwait(false);
        }
    }
}
