using Microsoft.Extensions.Logging;
using NUnit.Framework;
using Onitu.Drivers.LocalStorage;
using Onitu.Rules;
using Onitu.Setup;

namespace Onitu.Testing;

// The engine the tests sync through: the setup (the reference service and the one under test), sync passes, live mode.
public abstract partial class DriverConformanceTests
{
    /// <summary>The setup of the tests: one folder, the reference service and the service under test.</summary>
    protected OnituSetup CreateSetup() => new(
        "conformance",
        [new KeyValuePair<string, FolderRules>(FolderName, FolderRules.Empty)],
        [
            new ServiceSetup(ReferenceService, "local_storage", new Dictionary<string, object?> { ["root"] = ReferenceRoot },
                [new ServiceFolderSetup(FolderName, FolderName)]),
            new ServiceSetup(SubjectService, Factory.Manifest.Id, Area.Options, [new ServiceFolderSetup(FolderName, Area.FolderPath)]),
        ],
        baseDirectory: Scratch);

    /// <summary>The current engine, created on first use (see <see cref="CreateEngine"/>).</summary>
    protected SyncEngine Engine => _engine ??= CreateEngine();

    /// <summary>
    /// Creates an engine over <see cref="CreateSetup"/> with the test database, <see cref="OddChunkSize"/> chunks and
    /// no native copy; it becomes <see cref="Engine"/> and is disposed after the test.
    /// </summary>
    /// <param name="configure">Changes to the options.</param>
    protected SyncEngine CreateEngine(Action<SyncEngineOptions>? configure = null)
    {
        if (_engine is not null)
            throw new InvalidOperationException("Stop the current engine first (StopEngineAsync).");
        var options = new SyncEngineOptions
        {
            Setup = CreateSetup(),
            DatabasePath = Path.Combine(Scratch, "state.db"),
            ChunkSize = OddChunkSize,
            UseNativeCopy = false,
            RetryBaseDelay = TimeSpan.FromMilliseconds(50),
            MaxRetryDelay = TimeSpan.FromMilliseconds(500),
        };
        configure?.Invoke(options);
        IDriverFactory[] factories = Factory.Manifest.Id == "local_storage" ? [Factory] : [Factory, new LocalStorageDriverFactory()];
        _loggers ??= LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning).AddProvider(new TestContextLoggerProvider()));
        var engine = SyncEngine.Create(options, factories, _loggers);
        engine.EventRaised += (_, e) =>
        {
            lock (_events)
                _events.Add(e);
        };
        _engine = engine;
        return engine;
    }

    /// <summary>Disposes the current engine (a clean shutdown); the next <see cref="Engine"/> is a new one on the same database.</summary>
    protected async Task StopEngineAsync()
    {
        var engine = _engine;
        _engine = null;
        if (engine is not null)
            await engine.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Runs one sync pass of <see cref="Engine"/> and fails, with the engine's errors, unless it succeeded.</summary>
    /// <param name="why">What the pass is for, for the message.</param>
    protected async Task SyncAsync(string why)
    {
        var report = await Engine.SyncOnceAsync(Cancellation).ConfigureAwait(false);
        if (!report.Succeeded)
        {
            // The first failures come first: what went wrong at the start explains what the pass ended with.
            var failures = Events.OfType<TransferFailed>().Select(f => $"{f.Service} {f.Folder}:{f.Path}: {f.Error}").Distinct().Take(5).ToList();
            Assert.Fail($"The sync pass {why} did not succeed: {report.PendingJobs} job(s) left, errors:\n  {string.Join("\n  ", report.Errors)}" +
                        $"\nService states: {string.Join(", ", Engine.GetServiceStatuses().Select(s => $"{s.Name}={s.State} {s.Reason}"))}" +
                        (failures.Count == 0 ? "" : $"\nFirst transfer failures:\n  {string.Join("\n  ", failures)}"));
        }
    }

    /// <summary>Starts <see cref="Engine"/> watching (live mode) and waits until its first scans are done and it is idle.</summary>
    protected async Task StartLiveAsync()
    {
        await Engine.StartAsync(Cancellation).ConfigureAwait(false);
        await Engine.WaitUntilIdleAsync(Cancellation).ConfigureAwait(false);
    }
}
