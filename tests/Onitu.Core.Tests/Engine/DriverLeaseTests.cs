using Microsoft.Extensions.Logging.Abstractions;
using Onitu.Drivers.LocalStorage;

namespace Onitu.Core.Tests.Engine;

/// <summary>A driver is disposed only once no job uses it, even when its service fails in the middle of a transfer.</summary>
public class DriverLeaseTests
{
    [Test]
    public async Task A_service_failing_during_a_transfer_disposes_its_driver_only_after_the_transfer()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices().Replace("driver: local_storage\n    options:\n      root: B",
            "driver: gated\n    options:\n      root: B", StringComparison.Ordinal));
        var gated = new GatedFactory();
        h.Write("A", "docs/a.txt", "first");
        var options = new SyncEngineOptions { SetupFile = h.SetupFile, RetryBaseDelay = TimeSpan.FromMilliseconds(100), MaxRetryDelay = TimeSpan.FromSeconds(1) };
        await using var engine = SyncEngine.Create(options, [new LocalStorageDriverFactory(), gated], NullLoggerFactory.Instance);
        await engine.StartAsync();

        try
        {
        // One upload to B is held inside the driver; then another breaks the driver's contract, which fails B for good.
        await gated.Holding.Task.WaitAsync(SyncHarness.Timeout());
        h.Write("A", "docs/b.txt", "second");
        await SyncHarness.EventuallyAsync(() => engine.GetServiceStatuses().Single(s => s.Name == "B").State == ServiceState.Failing,
            "B failing");
        await Task.Delay(200);
        Assert.That(gated.Driver!.DisposedWhileBusy, Is.False);
        Assert.That(gated.Driver.Disposed, Is.False, "not disposed while an upload still runs in it");

        gated.Release.TrySetResult();
        await SyncHarness.EventuallyAsync(() => gated.Driver.Disposed, "disposed once the upload returned");
        Assert.That(gated.Driver.DisposedWhileBusy, Is.False);
        }
        finally
        {
            gated.Release.TrySetResult(); // a failed assertion must not leave the upload held forever
        }
        await engine.StopAsync();
    }

    private sealed class GatedFactory : IDriverFactory
    {
        private readonly LocalStorageDriverFactory _inner = new();

        public TaskCompletionSource Holding { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public GatedDriver? Driver { get; private set; }

        public DriverManifest Manifest { get; } = DriverManifest.Parse(LocalManifestJson().Replace("\"local_storage\"", "\"gated\"", StringComparison.Ordinal));

        private static string LocalManifestJson()
        {
            using var stream = typeof(LocalStorageDriverFactory).Assembly.GetManifestResourceStream(LocalStorageDriverFactory.ManifestResourceName)!;
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }

        public IDriver Create(IPlug plug) => Driver = new GatedDriver((LocalStorageDriver)_inner.Create(plug), this);
    }

    private sealed class GatedDriver(LocalStorageDriver inner, GatedFactory factory) : IDriver
    {
        private int _busy;

        public bool Disposed { get; private set; }
        public bool DisposedWhileBusy { get; private set; }

        public Task ScanAsync(CancellationToken cancellationToken) => inner.ScanAsync(cancellationToken);
        public Task WatchAsync(CancellationToken cancellationToken) => inner.WatchAsync(cancellationToken);
        public ValueTask<Stream> OpenReadAsync(Metadata metadata, CancellationToken cancellationToken) => inner.OpenReadAsync(metadata, cancellationToken);
        public ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken) => inner.DeleteFileAsync(metadata, cancellationToken);

        public async ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken)
        {
            if (metadata.Path == "b.txt")
                throw new DriverException("a broken handler"); // fails the service until restarted
            if (metadata.Path != "a.txt")
            {
                await inner.UploadFileAsync(metadata, content, cancellationToken).ConfigureAwait(false); // the folder marker
                return;
            }
            Interlocked.Increment(ref _busy);
            try
            {
                factory.Holding.TrySetResult();
                await factory.Release.Task.ConfigureAwait(false);
                await inner.UploadFileAsync(metadata, content, CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _busy);
            }
        }

        public async ValueTask DisposeAsync()
        {
            DisposedWhileBusy |= Volatile.Read(ref _busy) > 0;
            Disposed = true;
            await inner.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>Each pass of an engine waits for its own scans before it can be idle.</summary>
public class RepeatedPassTests
{
    [Test]
    public async Task A_second_pass_of_the_same_engine_waits_for_its_own_scans()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices().Replace("driver: local_storage\n    options:\n      root: A",
            "driver: slow_rescan\n    options:\n      root: A", StringComparison.Ordinal));
        var slow = new SlowRescanFactory();
        h.Write("A", "docs/first.txt", "1");
        var options = new SyncEngineOptions { SetupFile = h.SetupFile };
        await using var engine = SyncEngine.Create(options, [new LocalStorageDriverFactory(), slow], NullLoggerFactory.Instance);
        Assert.That((await engine.SyncOnceAsync()).Succeeded, Is.True);

        // The second pass's scan of A ends late: the pass must not take the first pass's scan for this one's (it did,
        // and could end before its services had even begun to scan when they were slow to start).
        h.Write("A", "docs/second.txt", "2");
        var pass = engine.SyncOnceAsync();
        await SyncHarness.EventuallyAsync(() => engine.GetServiceStatuses().Single(s => s.Name == "A").State == ServiceState.Scanning, "A rescanning");
        Assert.That(engine.Coordinator.Hosts["A"].FirstScanAttempted.IsCompleted, Is.False, "the second pass waits for its own scan");
        var report = await pass;

        Assert.That(report.Succeeded, Is.True);
        Assert.That(h.Exists("B", "docs/second.txt"), Is.True, "the file written between the passes was synced by the second");
    }

    private sealed class SlowRescanFactory : IDriverFactory
    {
        private readonly LocalStorageDriverFactory _inner = new();

        public DriverManifest Manifest { get; } = DriverManifest.Parse(LocalManifestJson().Replace("\"local_storage\"", "\"slow_rescan\"", StringComparison.Ordinal));

        private static string LocalManifestJson()
        {
            using var stream = typeof(LocalStorageDriverFactory).Assembly.GetManifestResourceStream(LocalStorageDriverFactory.ManifestResourceName)!;
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }

        public IDriver Create(IPlug plug) => new SlowRescanDriver((LocalStorageDriver)_inner.Create(plug));
    }

    private sealed class SlowRescanDriver(LocalStorageDriver inner) : IDriver
    {
        private int _scans;

        public async Task ScanAsync(CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _scans) > 1)
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            await inner.ScanAsync(cancellationToken).ConfigureAwait(false);
        }

        public Task WatchAsync(CancellationToken cancellationToken) => inner.WatchAsync(cancellationToken);
        public ValueTask<Stream> OpenReadAsync(Metadata metadata, CancellationToken cancellationToken) => inner.OpenReadAsync(metadata, cancellationToken);
        public ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken) => inner.UploadFileAsync(metadata, content, cancellationToken);
        public ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken) => inner.DeleteFileAsync(metadata, cancellationToken);
        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
