using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using NUnit.Framework.Interfaces;

namespace Onitu.Tests;

/// <summary>
/// Keeps what was logged during one test, down to debug level (the last <see cref="Capacity"/> lines, each with the
/// time since the log began), to be printed in the test's output if the test fails
/// (<see cref="PrintRecordedLogOnFailureAttribute"/>): `dotnet test` shows a failed test's output, not the progress
/// lines written as it ran, so a timeout in CI said nothing of what the engine had been doing.
/// </summary>
internal sealed class RecordedLogProvider : ILoggerProvider
{
    private const int Capacity = 4000;
    private static readonly ConcurrentDictionary<string, ConcurrentQueue<RecordedLogProvider>> ByTest = new();

    private readonly ConcurrentQueue<string> _lines = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly string _name;
    private int _dropped;

    /// <summary>Starts a log kept for the current test; <paramref name="name"/> tells several logs of one test apart.</summary>
    public RecordedLogProvider(string name)
    {
        _name = name;
        ByTest.GetOrAdd(TestContext.CurrentContext.Test.ID, _ => new()).Enqueue(this);
    }

    public ILogger CreateLogger(string categoryName) => new RecordingLogger(this, categoryName);

    public void Dispose() { }

    private void Add(string line)
    {
        _lines.Enqueue(line);
        while (_lines.Count > Capacity && _lines.TryDequeue(out _))
            Interlocked.Increment(ref _dropped);
    }

    /// <summary>Writes the logs kept for <paramref name="testId"/> when <paramref name="print"/>, and forgets them.</summary>
    internal static void Flush(string testId, bool print)
    {
        if (!ByTest.TryRemove(testId, out var logs) || !print)
            return;
        foreach (var log in logs)
        {
            TestContext.Out.WriteLine($"---- log of {log._name} (debug and above{(log._dropped > 0 ? $", the first {log._dropped} lines left out" : "")}) ----");
            foreach (var line in log._lines)
                TestContext.Out.WriteLine(line);
        }
    }

    private sealed class RecordingLogger(RecordedLogProvider log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel is not LogLevel.None and >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
                return;
            var line = $"{log._clock.Elapsed.TotalSeconds,8:F3} [{logLevel}] {category}: {formatter(state, exception)}";
            log.Add(exception is null ? line : $"{line} {exception.GetType().Name}: {exception.Message}");
        }
    }
}

/// <summary>Prints, in a failed test's output, the logs it recorded (<see cref="RecordedLogProvider"/>).</summary>
[AttributeUsage(AttributeTargets.Assembly | AttributeTargets.Class)]
internal sealed class PrintRecordedLogOnFailureAttribute : Attribute, ITestAction
{
    public ActionTargets Targets => ActionTargets.Test;

    public void BeforeTest(ITest test) { }

    public void AfterTest(ITest test) =>
        RecordedLogProvider.Flush(test.Id, TestContext.CurrentContext.Result.Outcome.Status == TestStatus.Failed);
}
