namespace Onitu.Drivers.S3.Tests;

/// <summary>Starts the store once for the whole test run and stops it at the end, also when tests failed.</summary>
[SetUpFixture]
public sealed class StoreSetup
{
    private static RadosGateway? _store;

    /// <summary>The store of this run.</summary>
    public static RadosGateway Store => _store ?? throw new InvalidOperationException("The store did not start (see the set-up failure).");

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _store = await RadosGateway.StartAsync();
        TestContext.Progress.WriteLine(_store.IsLocal
            ? $"Ceph RADOS Gateway on {_store.Endpoint} started in {_store.StartTime.TotalSeconds:0.0} s"
            : $"S3 tests against bucket '{_store.Bucket}' at {_store.Endpoint ?? "Amazon S3"}");
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_store is not null) await _store.DisposeAsync();
        _store = null;
    }
}
