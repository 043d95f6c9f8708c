using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Onitu.Diagnostics;
using Onitu.Drivers;
using Onitu.Options;
using Onitu.Rules;
using Onitu.Services;
using Onitu.Setup;
using Onitu.State;
using Onitu.Sync;
using Onitu.Transfers;

namespace Onitu;

/// <summary>
/// Keeps the folders of a setup in sync across its services. Create it with <c>Create</c> (or resolve it from
/// DI after <c>services.AddOnitu(...)</c>), then either <see cref="StartAsync"/> it to scan, watch and sync until
/// <see cref="StopAsync"/>, or run one pass with <see cref="SyncOnceAsync"/>. Dispose it to release the state
/// database and the drivers.
/// </summary>
public sealed partial class SyncEngine : IAsyncDisposable
{
    private readonly SyncCoordinator _coordinator;
    private readonly TransferExecutor _executor;
    private readonly TransferScheduler _scheduler;
    private readonly EngineMetrics _metrics;
    private readonly Lock _lifecycle = new();
    private CancellationTokenSource? _running;
    private Task _runTask = Task.CompletedTask;
    private bool _disposed;

    private SyncEngine(OnituSetup setup, SyncCoordinator coordinator, DriverCatalog catalog)
    {
        Setup = setup;
        Drivers = catalog;
        _coordinator = coordinator;
        _metrics = new EngineMetrics(setup.Name, coordinator, activeJobs: () => _scheduler!.ActiveCount);
        _executor = new TransferExecutor(coordinator, _metrics);
        _scheduler = new TransferScheduler(coordinator, _executor);
    }

    /// <summary>The setup this engine syncs.</summary>
    public OnituSetup Setup { get; private set; }

    /// <summary>The drivers available to the setup.</summary>
    public DriverCatalog Drivers { get; }

    /// <summary>The engine's shared parts (for tests that look at one service's plug).</summary>
    internal SyncCoordinator Coordinator => _coordinator;

    /// <summary>The state database's full path.</summary>
    public string DatabasePath => _coordinator.Store.DatabasePath;

    /// <summary>
    /// Loads and validates the setup, checks every service's options against its driver's manifest, and opens the
    /// state database. Nothing is scanned or transferred until <see cref="StartAsync"/> or <see cref="SyncOnceAsync"/>.
    /// </summary>
    /// <exception cref="OptionsValidationException">An engine option is wrong.</exception>
    /// <exception cref="SetupException">The setup is unreadable or wrong (every problem is listed, with file, line and key).</exception>
    public static SyncEngine Create(SyncEngineOptions options, IEnumerable<IDriverFactory> drivers,
        ILoggerFactory? loggerFactory = null, TimeProvider? clock = null) =>
        Create(options, new DriverCatalog(drivers), loggerFactory, clock);

    /// <inheritdoc cref="Create(SyncEngineOptions, IEnumerable{IDriverFactory}, ILoggerFactory?, TimeProvider?)"/>
    public static SyncEngine Create(SyncEngineOptions options, DriverCatalog drivers, ILoggerFactory? loggerFactory = null, TimeProvider? clock = null) =>
        Create(options, drivers, loggerFactory, clock, dryRun: false);

    private static SyncEngine Create(SyncEngineOptions options, DriverCatalog drivers, ILoggerFactory? loggerFactory, TimeProvider? clock, bool dryRun)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(drivers);
        var validation = new SyncEngineOptionsValidator().Validate(null, options);
        if (validation.Failed)
            throw new OptionsValidationException(nameof(SyncEngineOptions), typeof(SyncEngineOptions), validation.Failures);

        loggerFactory ??= NullLoggerFactory.Instance;
        clock ??= TimeProvider.System;
        var setup = options.Setup ?? LoadSetupFile(options.SetupFile!, drivers);
        var errors = SetupValidator.Validate(setup, drivers, out var optionsByService);
        if (errors.Count > 0)
            throw new SetupException(errors);

        var store = MetadataStore.Open(options.DatabasePath ?? DefaultDatabasePath(setup), loggerFactory.CreateLogger<SyncEngine>());
        var hosts = new Dictionary<string, ServiceHost>(StringComparer.Ordinal);
        var createErrors = new List<SetupError>();
        try
        {
            var coordinator = new SyncCoordinator(store, new Referee(setup), options, clock, loggerFactory) { DryRun = dryRun };
            hosts = coordinator.Hosts;
            var engine = new SyncEngine(setup, coordinator, drivers);
            foreach (var service in setup.Services)
            {
                var factory = drivers.Find(service.Driver)!;
                Log.DriverResolved(coordinator.Logger, service.Name, service.Driver, drivers.OriginOf(service.Driver)!);
                var plug = new ServicePlug(coordinator, service.Name,
                    [.. service.Folders.Select(f => new FolderMapping(f.Folder, f.Path))],
                    optionsByService[service.Name], setup.BaseDirectory,
                    loggerFactory.CreateLogger($"Onitu.Drivers.{service.Driver}.{service.Name}"));
                coordinator.Hosts[service.Name] = new ServiceHost(coordinator, factory, plug, CreateDriver(factory, plug, service, setup, createErrors));
            }
            if (createErrors.Count > 0)
                throw new SetupException(createErrors);
            drivers.Freeze();
            return engine;
        }
        catch
        {
            // Create is synchronous (hosts call it before anything runs) and must release what it opened before it
            // throws: the state database's lock, so that a corrected retry can open it. Once, on a failure, never on a
            // transfer; nothing awaited needs the caller's context (ConfigureAwait(false) throughout).
#pragma warning disable VSTHRD002 // see above
            foreach (var host in hosts.Values)
                host.DisposeAsync().AsTask().GetAwaiter().GetResult();
            store.DisposeAsync().AsTask().GetAwaiter().GetResult();
#pragma warning restore VSTHRD002
            throw;
        }
    }

    // A setup file with problems is refused with its services' option problems too: every problem at once.
    private static OnituSetup LoadSetupFile(string path, DriverCatalog drivers, CancellationToken cancellationToken = default)
    {
        try
        {
            return SetupLoader.LoadFile(path, cancellationToken);
        }
        catch (SetupException e) when (e.Partial is not null)
        {
            throw new SetupException(SetupValidator.Validate(e, drivers), e.InnerException);
        }
    }

    // A driver that refuses its options when created is a setup error like a manifest's refusal: reported before
    // anything starts, not retried.
    private static IDriver? CreateDriver(IDriverFactory factory, ServicePlug plug, ServiceSetup service, OnituSetup setup, List<SetupError> errors)
    {
        try
        {
            return factory.Create(plug);
        }
        catch (DriverException e)
        {
            errors.Add(new SetupError(setup.SourceFile, service.OptionsLine > 0 ? service.OptionsLine : service.Line > 0 ? service.Line : (int?)null,
                $"services.{service.Name}.options", $"the driver '{service.Driver}' refused the options of service '{service.Name}': {e.Message}"));
            return null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Any other failure is the driver's bug, not the setup's: the service tries again when it starts and
            // reports it there, while the others run.
            return null;
        }
    }

    /// <summary>The state database a setup uses by default: <c>&lt;setup file&gt;.state.db</c> beside it.</summary>
    public static string DefaultDatabasePath(OnituSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        return setup.SourceFile is { } file
            ? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(file))!, Path.GetFileNameWithoutExtension(file) + ".state.db")
            : Path.Combine(setup.BaseDirectory, "onitu.state.db");
    }

    /// <summary>
    /// Starts every service (startup scan, then watching) and the transfers; returns once they are started.
    /// Unfinished transfers of a previous run resume where they stopped.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await ResetRetriesAsync(cancellationToken).ConfigureAwait(false);
        lock (_lifecycle)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_running is not null)
                throw new InvalidOperationException("The engine is already running.");
            _running = new CancellationTokenSource();
            _coordinator.Jobs.MaxAttempts = int.MaxValue;
            _coordinator.SinglePass = false;
            foreach (var host in _coordinator.Hosts.Values)
                host.BeginRun();
            _runTask = RunAsync(watch: true, _running.Token);
        }
    }

    /// <summary>
    /// Stops the services and transfers, leaving unfinished transfers to resume at the next start, and ends the
    /// streams of <see cref="ReadEventsAsync"/>. When <paramref name="cancellationToken"/> fires first, the wait is
    /// abandoned (an <see cref="OperationCanceledException"/>) while the stop goes on; <see cref="DisposeAsync"/> waits
    /// for it before releasing the drivers and the state database.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        CancellationTokenSource? running;
        lock (_lifecycle)
        {
            running = _running;
            _running = null;
        }
        if (running is null)
        {
            _coordinator.Events.CompleteReaders();
            return;
        }
        await running.CancelAsync().ConfigureAwait(false);
        try
        {
            await _runTask.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Readers of ReadEventsAsync end with the run (an ASP.NET Core response streaming them must not hold
            // up the host's shutdown).
            _coordinator.Events.CompleteReaders();
            running.Dispose();
        }
    }

    /// <summary>
    /// Runs one pass: scans every service, propagates every change and returns when nothing more can be done
    /// (each job done, or failed <see cref="SyncEngineOptions.SyncMaxAttempts"/> times, or waiting on a failing
    /// service). The report says what is left and why.
    /// </summary>
    public async Task<SyncReport> SyncOnceAsync(CancellationToken cancellationToken = default)
    {
        await ResetRetriesAsync(cancellationToken).ConfigureAwait(false);
        using var pass = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        lock (_lifecycle)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_running is not null)
                throw new InvalidOperationException("The engine is already running.");
            _running = pass;
            _coordinator.Jobs.MaxAttempts = _coordinator.Options.SyncMaxAttempts;
            _coordinator.Skips.Reset();
            _coordinator.SinglePass = true;
            foreach (var host in _coordinator.Hosts.Values)
                host.BeginRun();
            _runTask = RunAsync(watch: false, pass.Token);
        }

        var completedBefore = _executor.JobsCompleted;
        var errors = new List<string>();
        try
        {
            await WaitUntilIdleAsync(cancellationToken).ConfigureAwait(false);
            // Read before the pass stops the services, which clears their failure reasons.
            foreach (var host in _coordinator.Hosts.Values)
            {
                if (host.Status is { State: ServiceState.Failing, Reason: var reason })
                    errors.Add($"service '{host.Name}' is failing: {reason}");
            }
        }
        finally
        {
            lock (_lifecycle)
                _running = null;
            await pass.CancelAsync().ConfigureAwait(false);
            await _runTask.ConfigureAwait(false);
        }

        var pending = await _coordinator.Store.Queries.PendingJobsAsync(target: null, cancellationToken).ConfigureAwait(false);
        errors.AddRange(await _coordinator.Store.Queries.PendingErrorsAsync(20, cancellationToken).ConfigureAwait(false));
        return new SyncReport(_executor.JobsCompleted - completedBefore, pending, errors) { Skipped = _coordinator.Skips.Snapshot() };
    }

    /// <summary>
    /// Waits until every service has tried its startup scan and no job can make progress any more: all done, or
    /// waiting on a failing service. Useful to an application that wants to know when a burst of changes settled.
    /// </summary>
    public async Task WaitUntilIdleAsync(CancellationToken cancellationToken = default)
    {
        await Task.WhenAll(_coordinator.Hosts.Values.Select(h => h.FirstScanAttempted)).WaitAsync(cancellationToken).ConfigureAwait(false);
        // Two consecutive idle observations: a job finishing can create the next (a conflict copy, a move fallback).
        // The poll starts fast and slows down while work goes on: a pass with nothing to do ends within a few
        // milliseconds instead of after two fixed 25 ms naps (a fifth of a no-op `onitu sync` of a small setup).
        // The last transfer landing wakes it early: a pass ends as its work does, not up to a poll later.
        // The confirming look comes a short pause after the first, whatever the busy poll has grown to.
        var idleObservations = 0;
        var busyPause = MinIdlePoll;
        while (true)
        {
            var landed = _scheduler.AllLanded; // taken before looking: a landing after the look still wakes the wait
            var scanning = _coordinator.Hosts.Values.Any(h => h.Status.State == ServiceState.Scanning);
            if (scanning || _scheduler.HasWorkLeft())
            {
                idleObservations = 0;
                await Task.WhenAny(landed, Task.Delay(busyPause, cancellationToken)).ConfigureAwait(false);
                busyPause = TimeSpan.FromTicks(Math.Min(busyPause.Ticks * 2, MaxIdlePoll.Ticks));
            }
            else
            {
                if (++idleObservations == 2)
                    break;
                await Task.Delay(MinIdlePoll, cancellationToken).ConfigureAwait(false);
            }
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    private static readonly TimeSpan MinIdlePoll = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan MaxIdlePoll = TimeSpan.FromMilliseconds(25);

    /// <summary>Each service's current state.</summary>
    public IReadOnlyList<ServiceStatus> GetServiceStatuses() => [.. _coordinator.Hosts.Values.Select(h => h.Status)];

    /// <summary>How much work is pending and done.</summary>
    public SyncProgress GetProgress() => new(
        _coordinator.Store.Queries.PendingJobs(), _scheduler.ActiveCount,
        _executor.BytesTransferred, _executor.JobsCompleted) { SchedulerFault = _scheduler.Fault };

    /// <summary>
    /// Streams the engine's events until <paramref name="cancellationToken"/> fires, the engine stops
    /// (<see cref="StopAsync"/>) or it is disposed. A reader that falls far behind loses its oldest events.
    /// </summary>
    public IAsyncEnumerable<SyncEvent> ReadEventsAsync(CancellationToken cancellationToken = default) =>
        _coordinator.Events.ReadAllAsync(cancellationToken);

    /// <summary>
    /// The engine's last events (at most <see cref="SyncEngineOptions.RecentEvents"/>), oldest first: every event since
    /// the engine was created is kept until newer ones push it out, those of the first start-up scan included, for a
    /// client that comes later.
    /// </summary>
    public IReadOnlyList<SyncEvent> GetRecentEvents() => _coordinator.Events.Recent();

    /// <summary>Raised for every engine event, on the thread that caused it: keep handlers quick.</summary>
    public event EventHandler<SyncEvent>? EventRaised
    {
        add => _coordinator.Events.Raised += value;
        remove => _coordinator.Events.Raised -= value;
    }

    private async Task RunAsync(bool watch, CancellationToken cancellationToken)
    {
        await Task.Yield();
        // Before any scan: files already known that the setup now sends somewhere new get their jobs. A stop during
        // this pass is a stop like any other (the next start runs it again: the fingerprint is recorded at its end).
        try
        {
            await Reconciler.RunIfChangedAsync(_coordinator, Setup, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return;
        }
        // Each on its own: a driver's scan may run synchronously for a long time and must not hold up the others.
        var tasks = new List<Task> { Task.Run(() => _scheduler.RunAsync(cancellationToken), CancellationToken.None) };
        tasks.AddRange(_coordinator.Hosts.Values.Select(h => Task.Run(() => RunServiceAsync(h, watch, cancellationToken), CancellationToken.None)));
        await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    private Task ResetRetriesAsync(CancellationToken cancellationToken) =>
        // A new run tries again what an earlier one gave up on.
        _coordinator.Store.WriteAsync(tx => tx.ResetRetries(), cancellationToken);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        lock (_lifecycle)
        {
            if (_disposed)
                return;
            _disposed = true;
        }
        await StopAsync().ConfigureAwait(false);
        // A stop whose wait was cancelled (a host's shutdown timeout) leaves the run finishing: the drivers and the
        // store it uses are released only after it.
        await _runTask.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _coordinator.Events.Close();
        _metrics.Dispose();
        foreach (var host in _coordinator.Hosts.Values)
            await host.DisposeAsync().ConfigureAwait(false);
        await _coordinator.Store.DisposeAsync().ConfigureAwait(false);
    }
}
