namespace Onitu.Tests;

/// <summary>Waiting in tests for something that happens in the background (a sync, a watcher, a hosted engine).</summary>
internal static class Eventually
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Polls <paramref name="condition"/> until it holds; after <paramref name="timeout"/> fails the test with
    /// <paramref name="what"/> and, if given, what <paramref name="describe"/> says of the state found. A check that
    /// throws <see cref="IOException"/> (a file being replaced while it is read) is taken again.
    /// </summary>
    public static async Task HoldsAsync(Func<Task<bool>> condition, string what, TimeSpan timeout, Func<string>? describe = null, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                if (await condition())
                    return;
            }
            catch (IOException)
            {
                // A file being replaced mid-check: look again.
            }
            if (DateTime.UtcNow > deadline)
                Assert.Fail(describe is null ? $"Timed out waiting for: {what}" : $"Timed out waiting for {what}. {describe()}");
            await Task.Delay(PollInterval, cancellationToken);
        }
    }

    /// <inheritdoc cref="HoldsAsync(Func{Task{bool}}, string, TimeSpan, Func{string}?, CancellationToken)"/>
    public static Task HoldsAsync(Func<bool> condition, string what, TimeSpan timeout, Func<string>? describe = null, CancellationToken cancellationToken = default) =>
        HoldsAsync(() => Task.FromResult(condition()), what, timeout, describe, cancellationToken);
}
