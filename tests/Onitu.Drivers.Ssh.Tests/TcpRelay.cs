using System.Net;
using System.Net.Sockets;

namespace Onitu.Drivers.Ssh.Tests;

/// <summary>
/// A TCP relay on 127.0.0.1 in front of a port: counts the connections made through it (how many times ssh tried),
/// and can freeze — stop forwarding in both directions while keeping every socket open, as a dead link does.
/// </summary>
public sealed class TcpRelay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _sockets = [];
    private readonly Task _accepting;
    private TaskCompletionSource _flowing = NewGate(open: true);
    private int _connections;

    public TcpRelay(int targetPort)
    {
        _target = targetPort;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>How many connections were accepted (each ssh attempt is one).</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Stops forwarding: bytes in flight and new connections wait, sockets stay open.</summary>
    public void Freeze()
    {
        lock (_sockets)
        {
            if (_flowing.Task.IsCompleted) _flowing = NewGate(open: false);
        }
    }

    /// <summary>Forwards again what waited and what comes.</summary>
    public void Thaw()
    {
        lock (_sockets) _flowing.TrySetResult();
    }

    private static TaskCompletionSource NewGate(bool open)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (open) gate.SetResult();
        return gate;
    }

    private Task Flowing()
    {
        lock (_sockets) return _flowing.Task;
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var inbound = await _listener.AcceptTcpClientAsync(_stop.Token);
                Interlocked.Increment(ref _connections);
                _ = RelayAsync(inbound);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    private async Task RelayAsync(TcpClient inbound)
    {
        var outbound = new TcpClient();
        lock (_sockets)
        {
            _sockets.Add(inbound);
            _sockets.Add(outbound);
        }
        try
        {
            await Flowing().WaitAsync(_stop.Token);
            await outbound.ConnectAsync(IPAddress.Loopback, _target, _stop.Token);
            var a = inbound.GetStream();
            var b = outbound.GetStream();
            await Task.WhenAny(PumpAsync(a, b), PumpAsync(b, a));
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            inbound.Dispose();
            outbound.Dispose();
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReadAsync(buffer, _stop.Token);
                if (read == 0) return;
                await Flowing().WaitAsync(_stop.Token);
                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        lock (_sockets)
        {
            foreach (var socket in _sockets) socket.Dispose();
        }
        await _accepting;
        _stop.Dispose();
    }
}
