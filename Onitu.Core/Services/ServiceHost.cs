using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Onitu.Diagnostics;
using Onitu.Sync;

namespace Onitu.Services;

/// <summary>
/// Runs and supervises one service: creates its driver, runs the startup scan, then watches; a driver that throws
/// is logged with the service's name, marked failing with the reason, and restarted with exponential backoff,
/// while the other services go on — except after a <see cref="DriverException"/> (misconfigured, refused), which
/// leaves it failing until it is restarted.
/// </summary>
internal sealed partial class ServiceHost : IAsyncDisposable
{
    private readonly SyncCoordinator _coordinator;
    private readonly IDriverFactory _factory;
    private readonly ILogger _logger;
    private readonly FolderMarkers _markers;
    private DriverException? _brokenBy;
    private FolderMissingException? _folderMissing;
    private int _driverUsers;
    // A transfer stuck in a driver call must not hold the service's shutdown forever.
    private static readonly TimeSpan DriverReleaseTimeout = TimeSpan.FromSeconds(30);
    private readonly Lock _stateLock = new();
    private TaskCompletionSource _firstScan = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _lock = new();
    private CancellationTokenSource? _restart;
    private int _consecutiveTransferFailures;
    private double _throughput = double.NaN;

    /// <param name="coordinator">The engine's shared parts.</param>
    /// <param name="factory">Creates the driver (again after a failure that disposed it).</param>
    /// <param name="plug">The service's plug.</param>
    /// <param name="driver">The driver already created for the service, if any.</param>
    public ServiceHost(SyncCoordinator coordinator, IDriverFactory factory, ServicePlug plug, IDriver? driver = null)
    {
        _coordinator = coordinator;
        _factory = factory;
        Plug = plug;
        _markers = new FolderMarkers(coordinator, plug.ServiceName);
        Driver = driver;
        _logger = coordinator.LoggerFactory.CreateLogger($"Onitu.Services.{plug.ServiceName}");
        Status = new ServiceStatus(plug.ServiceName, factory.Manifest.Id, ServiceState.Stopped, null, coordinator.Clock.GetUtcNow());
    }

    public string Name => Plug.ServiceName;
    public ServicePlug Plug { get; }
    public IDriver? Driver { get; private set; }
    public ServiceStatus Status { get; private set; }

    /// <summary>Scanned and not failing: jobs may read from and write to it.</summary>
    public bool IsReady => Status.State == ServiceState.Running && Driver is not null;

    /// <summary>
    /// Ready, or scanning: a file it holds may be read (a source) before its scan ends. Every read is checked against
    /// the revision the file was reported with (the driver at open, <see cref="Transfers.SourceVerification"/> at
    /// the end), so a file the scan has not reached yet and that changed meanwhile is refused, not sent; writes wait
    /// for <see cref="IsReady"/>, since only a finished scan says what a target holds. Without it, an initial sync
    /// sent nothing until its source was fully scanned: a third of the run for 10,000 small files.
    /// </summary>
    public bool CanBeRead => (Status.State is ServiceState.Running or ServiceState.Scanning) && Driver is not null;

    /// <summary>Completes when the first scan attempt ended, successfully or not.</summary>
    public Task FirstScanAttempted => Volatile.Read(ref _firstScan).Task;

    /// <summary>
    /// A new run of the engine is about to start this service: its first scan is awaited afresh. Without it, a second
    /// pass of the same engine took the previous pass's scan for its own and could end before scanning at all.
    /// </summary>
    public void BeginRun()
    {
        if (Volatile.Read(ref _firstScan).Task.IsCompleted)
            Volatile.Write(ref _firstScan, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
    }

    /// <summary>Observed read throughput in bytes per second (the original's <c>velocity</c>), NaN until measured.</summary>
    public double Throughput => Volatile.Read(ref _throughput);

    public async Task RunAsync(bool watch, CancellationToken cancellationToken)
    {
        var attempt = 0;
        Volatile.Write(ref _brokenBy, null);
        while (!cancellationToken.IsCancellationRequested)
        {
            using var restart = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            lock (_lock)
                _restart = restart;
            var failed = false;
            try
            {
                // A folder found gone before this scan is what the scan looks at anew.
                Volatile.Write(ref _folderMissing, null);
                Driver ??= _factory.Create(Plug);
                SetState(ServiceState.Scanning, null);
                Log.ServiceScanning(_logger, Name);
                var started = Stopwatch.GetTimestamp();
                Plug.BeginScan();
                try
                {
                    using (OnituTelemetry.StartScan(Name))
                        await ScanAsync(Driver, restart.Token).ConfigureAwait(false);
                }
                finally
                {
                    Plug.EndScan();
                }
                Log.ServiceScanned(_logger, Name, Stopwatch.GetElapsedTime(started));
                attempt = 0;
                Interlocked.Exchange(ref _consecutiveTransferFailures, 0);
                SetState(ServiceState.Running, null);
                Volatile.Read(ref _firstScan).TrySetResult();
                if (!watch)
                {
                    // A one-shot pass keeps the service up for its transfers until the pass ends (or a restart).
                    await Task.Delay(Timeout.Infinite, restart.Token).ConfigureAwait(false);
                }
                await Driver.WatchAsync(restart.Token).ConfigureAwait(false);
                if (!restart.IsCancellationRequested)
                    throw new ServiceException($"The driver of service '{Name}' stopped watching without being asked to.");
            }
            catch (OperationCanceledException) when (restart.IsCancellationRequested)
            {
                // A stop (loop ends) or a restart asked after repeated failures (loop rescans), or a transfer that
                // found the driver broken (ReportTransferFailure, handled below).
            }
            catch (DriverException e)
            {
                await FailUntilRestartedAsync(e, cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (Exception e)
            {
                failed = true;
                if (!await FailAndWaitAsync(e, ++attempt, cancellationToken).ConfigureAwait(false))
                    break;
            }
            finally
            {
                lock (_lock)
                    _restart = null;
            }
            // A transfer found the driver broken: whether the driver's own call ended by cancellation or returned.
            if (Volatile.Read(ref _brokenBy) is { } broken && !cancellationToken.IsCancellationRequested)
            {
                await FailUntilRestartedAsync(broken, cancellationToken).ConfigureAwait(false);
                break;
            }
            // A transfer found a folder gone and restarted the service: it fails as if its scan had, and is scanned again
            // after the same backoff (the scan's marker check then says whether the folder is back).
            if (!failed && restart.IsCancellationRequested && !cancellationToken.IsCancellationRequested
                && Interlocked.Exchange(ref _folderMissing, null) is { } missing
                && !await FailAndWaitAsync(missing, ++attempt, cancellationToken).ConfigureAwait(false))
                break;
        }
        SetState(ServiceState.Stopped, null);
        Log.ServiceStopped(_logger, Name);
    }

    /// <summary>
    /// Marks the service failing with <paramref name="failure"/>'s reason and waits the backoff of attempt
    /// <paramref name="attempt"/>; false when the service is stopped meanwhile.
    /// </summary>
    private async Task<bool> FailAndWaitAsync(Exception failure, int attempt, CancellationToken cancellationToken)
    {
        var delay = _coordinator.Options.RetryDelay(attempt);
        SetState(ServiceState.Failing, failure.Message);
        // The reason says what happened; where in the code is for --verbose (debug level).
        Log.ServiceFailingWithoutTrace(_logger, Name, delay, failure.Message);
        Log.ServiceFailureDetail(_logger, Name, failure);
        Volatile.Read(ref _firstScan).TrySetResult();
        try
        {
            await Task.Delay(delay, _coordinator.Clock, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>
    /// The startup scan, between the safety checks: a folder that lost its marker fails the service before anything
    /// is read; the deletions the scan finds are judged by the <see cref="DeletionGuard"/> once it is over; markers are
    /// created once a folder was scanned.
    /// </summary>
    private async Task ScanAsync(IDriver driver, CancellationToken cancellationToken)
    {
        await _markers.CheckAsync(driver, Plug.Folders, cancellationToken).ConfigureAwait(false);
        Plug.Deletions.Begin();
        try
        {
            await driver.ScanAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Plug.Deletions.Abandon();
            throw;
        }
        await Plug.Deletions.ReleaseAsync(Plug.ApplyDeleteAsync, cancellationToken).ConfigureAwait(false);
        if (!_coordinator.DryRun)
            await _markers.EnsureAsync(driver, Plug.Folders, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Misconfigured, refused (a rejected key) or broken (a handler breaking the contract): retrying cannot help
    /// until the setup or the driver changes, and hammering a server with refused logins gets the user banned.
    /// The service stays failing until it is restarted.
    /// </summary>
    private async Task FailUntilRestartedAsync(DriverException e, CancellationToken cancellationToken)
    {
        SetState(ServiceState.Failing, e.Message);
        Log.ServiceFailedPermanently(_logger, Name, e.Message);
        Log.ServiceFailureDetail(_logger, Name, e);
        Volatile.Read(ref _firstScan).TrySetResult();
        await SafeDisposeDriverAsync().ConfigureAwait(false);
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Records a transfer that failed on this service; too many in a row restart it (rescan). A
    /// <see cref="DriverException"/> fails it until restarted, as one from its scan does: a driver that broke its
    /// contract in a transfer (a write without a revision) must not be healed by a rescan into a pass that "succeeded".
    /// A <see cref="FolderMissingException"/> (a folder's directory gone, replaced or without its marker) fails it at
    /// once, and it is scanned again after its backoff, as after a failed scan.
    /// </summary>
    public void ReportTransferFailure(Exception exception)
    {
        if (exception is DriverException broken)
        {
            Volatile.Write(ref _brokenBy, broken);
            FailNow(broken.Message);
            return;
        }
        if (exception is FolderMissingException missing)
        {
            // Not one more failure to count: the folder is gone, and every job on it would fail alike.
            Volatile.Write(ref _folderMissing, missing);
            FailNow(missing.Message);
            return;
        }
        var failures = Interlocked.Increment(ref _consecutiveTransferFailures);
        if (failures >= _coordinator.Options.FailuresBeforeRestart)
        {
            Interlocked.Exchange(ref _consecutiveTransferFailures, 0);
            Log.ServiceRestartAfterFailures(_logger, Name, failures);
            FailNow(exception.Message);
        }
    }

    // Fails the service at once and ends its run, which restarts after its backoff (a scan, then watching).
    private void FailNow(string reason)
    {
        SetState(ServiceState.Failing, reason);
        lock (_lock)
            _restart?.Cancel();
    }

    public void ReportTransferSuccess(long bytes, TimeSpan elapsed)
    {
        Interlocked.Exchange(ref _consecutiveTransferFailures, 0);
        if (bytes < 64 * 1024 || elapsed <= TimeSpan.Zero)
            return; // small files measure latency, not throughput
        var sample = bytes / elapsed.TotalSeconds;
        var previous = Throughput;
        Volatile.Write(ref _throughput, double.IsNaN(previous) ? sample : previous * 0.7 + sample * 0.3);
    }

    private void SetState(ServiceState state, string? reason)
    {
        // The service's loop, transfers reporting failures and control calls change the state from several
        // threads: the compare and the write are one step, and each change is published once.
        ServiceStatus changed;
        lock (_stateLock)
        {
            var previous = Status;
            if (previous.State == state && previous.Reason == reason)
                return;
            changed = new ServiceStatus(Name, _factory.Manifest.Id, state, reason, _coordinator.Clock.GetUtcNow());
            Status = changed;
        }
        _coordinator.Events.Publish(new ServiceStateChanged(changed.Since, Name, state, reason));
        if (state == ServiceState.Running)
            _coordinator.Jobs.WorkReady();
    }

    /// <summary>
    /// Borrows the driver for the calls of one job (dispose the lease when done): a driver is disposed only once no
    /// job uses it, so a service failing or stopping never pulls it from under a transfer. Null when there is none.
    /// </summary>
    public DriverLease? LeaseDriver()
    {
        Interlocked.Increment(ref _driverUsers);
        if (Driver is { } driver)
            return new DriverLease(this, driver);
        Interlocked.Decrement(ref _driverUsers);
        return null;
    }

    /// <summary>A borrowed driver; see <see cref="LeaseDriver"/>.</summary>
    public sealed class DriverLease(ServiceHost host, IDriver driver) : IDisposable
    {
        private int _released;

        public IDriver Driver { get; } = driver;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
                Interlocked.Decrement(ref host._driverUsers);
        }
    }

    private async Task SafeDisposeDriverAsync()
    {
        // New jobs no longer start on this service (it is failing or stopped); those under way finish or fail first.
        var waited = Stopwatch.StartNew();
        while (Volatile.Read(ref _driverUsers) > 0 && waited.Elapsed < DriverReleaseTimeout)
            await Task.Delay(10).ConfigureAwait(false);
        var driver = Driver;
        Driver = null;
        if (driver is null)
            return;
        try
        {
            await driver.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.ServiceFailing(_logger, Name, TimeSpan.Zero, "closing the driver failed: " + e.Message, e);
        }
    }

    public ValueTask DisposeAsync() => new(SafeDisposeDriverAsync());
}
