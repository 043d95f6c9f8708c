namespace Onitu.Drivers.LocalStorage.Tests;

/// <summary>
/// A stream that hands its first block, then waits to be released before the rest (asynchronous reads only): a
/// whole-file upload from it is paused with its temporary file made.
/// </summary>
internal sealed class GateStream(byte[] content) : MemoryStream(content)
{
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _first = true;

    /// <summary>Completes when the first block was read.</summary>
    public Task Started => _started.Task;

    /// <summary>Lets the rest be read.</summary>
    public void Release() => _release.TrySetResult();

    // MemoryStream copies its buffer at once; this one copies block by block, through ReadAsync.
    public override async Task CopyToAsync(Stream destination, int bufferSize, CancellationToken cancellationToken)
    {
        var buffer = new byte[bufferSize];
        int read;
        while ((read = await ReadAsync(buffer, cancellationToken)) > 0)
            await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!_first)
            await _release.Task.WaitAsync(cancellationToken);
        _first = false;
        _started.TrySetResult();
        return await base.ReadAsync(buffer[..Math.Min(buffer.Length, 1000)], cancellationToken);
    }
}
