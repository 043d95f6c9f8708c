using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Onitu.Drivers.LocalStorage.Tests;

/// <summary>A logger that keeps what it is told, so tests can check the driver logged (or did not log) something.</summary>
public sealed class TestLogger : ILogger
{
    private readonly ConcurrentQueue<string> _entries = new();

    public IReadOnlyCollection<string> Entries => _entries;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        _entries.Enqueue($"{logLevel} {eventId.Id}: {formatter(state, exception)}{(exception is null ? "" : " -- " + exception.Message)}");
    }

    public bool Has(LogLevel level, int eventId) =>
        _entries.Any(e => e.StartsWith($"{level} {eventId}:", StringComparison.Ordinal));
}
