using Microsoft.Extensions.Logging;

namespace Onitu.Tests;

/// <summary>Sends logs to the NUnit test output, so that a failing test shows what the engine and drivers did.</summary>
/// <param name="minimum">The lowest level written.</param>
/// <param name="quietCategories">Category prefixes left out (a framework's chatter).</param>
internal sealed class TestContextLoggerProvider(LogLevel minimum = LogLevel.Information, params string[] quietCategories) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) =>
        new TestContextLogger(categoryName, quietCategories.Any(q => categoryName.StartsWith(q, StringComparison.Ordinal)) ? LogLevel.None : minimum);

    public void Dispose() { }

    private sealed class TestContextLogger(string category, LogLevel minimum) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
                TestContext.Progress.WriteLine($"[{logLevel}] {category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception.GetType().Name)}");
        }
    }
}
