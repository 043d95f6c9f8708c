using Onitu.Drivers.LocalStorage;

namespace Onitu.Core.Tests.Engine;

/// <summary>
/// A driver that asks for more transfers in flight (<see cref="ITransferConcurrency"/>) gets them, beyond the engine's
/// own setting; chunked uploads of large files stay within the setting (each holds chunk buffers).
/// </summary>
[TestFixture]
public class TransferConcurrencyTests
{
    private const string Setup = """
        name: test
        folders:
          docs: {}
        services:
          A: { driver: local_storage, options: { root: A }, folders: { docs: { path: docs, mode: r } } }
          G: { driver: gauged_storage, options: { root: G }, folders: { docs: { path: docs, mode: w } } }
        """;

    private const int Setting = 2;

    private static SyncHarness Create(GaugedStorageFactory gauged)
    {
        var h = new SyncHarness(Setup, o => o.MaxParallelTransfers = Setting);
        h.ExtraDrivers.Add(gauged);
        return h;
    }

    [Test]
    public async Task A_target_asking_for_more_transfers_in_flight_gets_as_many_as_it_asked_and_no_more()
    {
        // Each upload waits (a while at most) until as many as asked are in flight: with the engine's two, they never are.
        var gauged = new GaugedStorageFactory { Asked = 8 };
        gauged.WholeFiles.WaitFor = 8;
        await using var h = Create(gauged);
        for (var i = 0; i < 24; i++)
            h.Write("A", $"docs/f{i:00}.txt", $"content {i}");

        await h.SyncExpectingSuccessAsync();

        Assert.That(gauged.WholeFiles.Peak, Is.EqualTo(8), "uploads in flight at once: the driver's ask, not the engine's setting of 2");
        for (var i = 0; i < 24; i++)
            Assert.That(h.Read("G", $"docs/f{i:00}.txt"), Is.EqualTo($"content {i}"));
    }

    [Test]
    public async Task A_target_that_asks_for_nothing_keeps_the_engines_setting_beside_one_that_asks_for_more()
    {
        const string ThreeServices = """
            name: test
            folders:
              docs: {}
            services:
              A: { driver: local_storage, options: { root: A }, folders: { docs: { path: docs, mode: r } } }
              G: { driver: gauged_storage, options: { root: G }, folders: { docs: { path: docs, mode: w } } }
              L: { driver: plain_gauged_storage, options: { root: L }, folders: { docs: { path: docs, mode: w } } }
            """;
        var gauged = new GaugedStorageFactory { Asked = 8 };
        gauged.WholeFiles.WaitFor = 8;
        var plain = new GaugedStorageFactory("plain_gauged_storage") { Asked = 0 };
        plain.WholeFiles.WaitFor = Setting + 1; // reached only if the engine lets more than its setting in at once
        plain.WholeFiles.Patience = TimeSpan.FromMilliseconds(200);
        await using var h = new SyncHarness(ThreeServices, o => o.MaxParallelTransfers = Setting);
        h.ExtraDrivers.Add(gauged);
        h.ExtraDrivers.Add(plain);
        for (var i = 0; i < 24; i++)
            h.Write("A", $"docs/f{i:00}.txt", $"content {i}");

        await h.SyncExpectingSuccessAsync();

        Assert.That(gauged.WholeFiles.Peak, Is.EqualTo(8), "uploads in flight at once on the target that asked for 8");
        Assert.That(plain.WholeFiles.Peak, Is.EqualTo(Setting), "uploads in flight at once on the target that asked for nothing");
        Assert.That(h.Tree("L"), Is.EqualTo(h.Tree("A")));
        Assert.That(h.Tree("G"), Is.EqualTo(h.Tree("A")));
    }

    [Test]
    public async Task Downloads_from_a_service_asking_for_more_get_its_lane_on_a_target_that_asks_for_nothing()
    {
        const string Download = """
            name: test
            folders:
              docs: {}
            services:
              G: { driver: gauged_storage, options: { root: G }, folders: { docs: { path: docs, mode: r } } }
              L: { driver: plain_gauged_storage, options: { root: L }, folders: { docs: { path: docs, mode: w } } }
            """;
        var gauged = new GaugedStorageFactory { Asked = 8 };
        var plain = new GaugedStorageFactory("plain_gauged_storage") { Asked = 0 };
        plain.WholeFiles.WaitFor = 8;
        await using var h = new SyncHarness(Download, o => o.MaxParallelTransfers = Setting);
        h.ExtraDrivers.Add(gauged);
        h.ExtraDrivers.Add(plain);
        for (var i = 0; i < 24; i++)
            h.Write("G", $"docs/f{i:00}.txt", $"content {i}");

        await h.SyncExpectingSuccessAsync();

        Assert.That(plain.WholeFiles.Peak, Is.EqualTo(8), "downloads from the service that asked for 8 in flight at once");
        Assert.That(h.Tree("L"), Is.EqualTo(h.Tree("G")));
    }

    [Test]
    public async Task Chunked_uploads_stay_within_the_engines_setting_when_a_target_asks_for_more()
    {
        var gauged = new GaugedStorageFactory { Asked = 8 };
        gauged.Chunked.WaitFor = Setting + 1; // reached only if more chunked uploads than the setting run at once
        await using var h = Create(gauged);
        var large = new byte[(2 * 1024 * 1024) + 5]; // two chunks of the harness's 1 MiB and more: chunked
        for (var i = 0; i < 5; i++)
        {
            large[0] = (byte)i;
            h.Write("A", $"docs/large{i}.bin", large);
        }

        await h.SyncExpectingSuccessAsync();

        Assert.That(gauged.Chunked.Peak, Is.EqualTo(Setting), "chunked uploads in flight at once");
        for (var i = 0; i < 5; i++)
            Assert.That(File.ReadAllBytes(h.PathOf("G", $"docs/large{i}.bin"))[0], Is.EqualTo((byte)i));
    }

    /// <summary>Counts calls in flight, by path; each waits, up to <see cref="Patience"/>, until <see cref="WaitFor"/> are, so that a limit shows.</summary>
    internal sealed class Gauge
    {
        private readonly Lock _lock = new();
        private readonly HashSet<string> _inFlight = [];

        public int WaitFor { get; set; } = 1;
        public TimeSpan Patience { get; set; } = TimeSpan.FromSeconds(1);
        public int Peak { get; private set; }

        public async Task EnterAsync(string path, CancellationToken cancellationToken)
        {
            lock (_lock)
            {
                _inFlight.Add(path);
                Peak = Math.Max(Peak, _inFlight.Count);
            }
            var deadline = DateTime.UtcNow + Patience;
            while (DateTime.UtcNow < deadline && Peak < WaitFor)
                await Task.Delay(5, cancellationToken);
        }

        public void Exit(string path)
        {
            lock (_lock)
                _inFlight.Remove(path);
        }
    }

    /// <summary>The driver <c>gauged_storage</c>: local_storage on real files, asking for <see cref="Asked"/> transfers in flight.</summary>
    internal sealed class GaugedStorageFactory(string id = "gauged_storage") : IDriverFactory
    {
        private readonly LocalStorageDriverFactory _inner = new();

        public int Asked { get; init; }
        public Gauge WholeFiles { get; } = new();
        public Gauge Chunked { get; } = new();

        public DriverManifest Manifest { get; } = LocalStorageManifest.Renamed(id, typeof(GaugedStorageFactory));

        public IDriver Create(IPlug plug) => new GaugedDriver((LocalStorageDriver)_inner.Create(plug), this);

        private sealed class GaugedDriver(LocalStorageDriver inner, GaugedStorageFactory factory) : IDriver, IChunkedWriter, ITransferConcurrency
        {
            public int ConcurrentTransfers => factory.Asked;

            public Task ScanAsync(CancellationToken cancellationToken) => inner.ScanAsync(cancellationToken);
            public Task WatchAsync(CancellationToken cancellationToken) => inner.WatchAsync(cancellationToken);
            public ValueTask<Stream> OpenReadAsync(Metadata metadata, CancellationToken cancellationToken) => inner.OpenReadAsync(metadata, cancellationToken);
            public ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken) => inner.DeleteFileAsync(metadata, cancellationToken);

            public async ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken)
            {
                await factory.WholeFiles.EnterAsync(metadata.Path, cancellationToken);
                try
                {
                    await inner.UploadFileAsync(metadata, content, cancellationToken);
                }
                finally
                {
                    factory.WholeFiles.Exit(metadata.Path);
                }
            }

            public int NegotiateChunkSize(int proposedChunkSize) => inner.NegotiateChunkSize(proposedChunkSize);

            public async ValueTask StartUploadAsync(Metadata metadata, CancellationToken cancellationToken)
            {
                await inner.StartUploadAsync(metadata, cancellationToken);
                await factory.Chunked.EnterAsync(metadata.Path, cancellationToken);
            }

            public ValueTask RestartUploadAsync(Metadata metadata, long offset, CancellationToken cancellationToken) =>
                inner.RestartUploadAsync(metadata, offset, cancellationToken);

            public ValueTask UploadChunkAsync(Metadata metadata, long offset, ReadOnlyMemory<byte> chunk, CancellationToken cancellationToken) =>
                inner.UploadChunkAsync(metadata, offset, chunk, cancellationToken);

            public async ValueTask EndUploadAsync(Metadata metadata, CancellationToken cancellationToken)
            {
                try
                {
                    await inner.EndUploadAsync(metadata, cancellationToken);
                }
                finally
                {
                    factory.Chunked.Exit(metadata.Path);
                }
            }

            public async ValueTask AbortUploadAsync(Metadata metadata, CancellationToken cancellationToken)
            {
                await inner.AbortUploadAsync(metadata, cancellationToken);
                factory.Chunked.Exit(metadata.Path);
            }

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }
}
