using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Onitu.Cli.Commands;

/// <summary>
/// A logger factory whose console output is built at the first message that passes its filters rather than at start:
/// most commands log nothing (warnings and errors only, by default), and building the console logger (its options
/// binding, formatter and background writer) was about a fifth of the CPU of a no-op <c>onitu sync</c>.
/// </summary>
/// <remarks>
/// The filters are applied twice, identically: by the factory returned, so that a message below them costs nothing,
/// and by the console factory the configuration builds. Scopes opened before the console exists are
/// not kept (the console formatter is configured without scopes).
/// </remarks>
internal static class LazyConsoleLogging
{
    /// <summary>Creates the factory.</summary>
    /// <param name="minimum">The minimum level of every category without its own filter.</param>
    /// <param name="filters">Categories (prefixes) with their own minimum level.</param>
    /// <param name="configureConsole">Configures the console factory: the same level and filters, and its console providers.</param>
    public static ILoggerFactory Create(LogLevel minimum, IReadOnlyList<(string Category, LogLevel Level)> filters, Action<ILoggingBuilder> configureConsole)
    {
        var options = new LoggerFilterOptions { MinLevel = minimum };
        foreach (var (category, level) in filters)
            options.Rules.Add(new LoggerFilterRule(providerName: null, categoryName: category, logLevel: level, filter: null));
        return new LoggerFactory([new Provider(configureConsole)], options);
    }

    private sealed class Provider(Action<ILoggingBuilder> configureConsole) : ILoggerProvider
    {
        private readonly Lock _lock = new();
        private ILoggerFactory? _console;
        private bool _disposed;

        public ILogger CreateLogger(string categoryName) => new DeferredLogger(this, categoryName);

        /// <summary>The console factory, built at the first call; null once disposed.</summary>
        public ILoggerFactory? Console
        {
            get
            {
                if (Volatile.Read(ref _console) is { } built)
                    return built;
                lock (_lock)
                {
                    if (_disposed)
                        return null;
                    return _console ??= LoggerFactory.Create(configureConsole);
                }
            }
        }

        /// <summary>Whether the console factory exists (a scope needs it only then).</summary>
        public ILoggerFactory? ConsoleIfBuilt => Volatile.Read(ref _console);

        public void Dispose()
        {
            ILoggerFactory? console;
            lock (_lock)
            {
                _disposed = true;
                console = _console;
            }
            console?.Dispose(); // flushes what the console's writer still holds
        }
    }

    private sealed class DeferredLogger(Provider provider, string category) : ILogger
    {
        private readonly ConcurrentDictionary<ILoggerFactory, ILogger> _inner = new();

        // The factory in front has applied the filters already: a call here is for a message that passes them.
        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (provider.Console is { } console)
                Inner(console).Log(logLevel, eventId, state, exception, formatter);
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull =>
            provider.ConsoleIfBuilt is { } console ? Inner(console).BeginScope(state) : null;

        private ILogger Inner(ILoggerFactory console) => _inner.GetOrAdd(console, static (factory, name) => factory.CreateLogger(name), category);
    }
}
