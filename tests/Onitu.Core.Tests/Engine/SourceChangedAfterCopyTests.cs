using Onitu.Drivers.LocalStorage;

namespace Onitu.Core.Tests.Engine;

/// <summary>
/// A copy can land on its target before the engine finds that its source changed (a target that reads the content
/// to its size and no further, a native copy). The landed copy is the engine's own write, not the target's edit: the
/// next upload replaces it without a conflict. Found as a flaky <see cref="LaterWriteTests"/> round: the landed copy,
/// reported back as the timed store's own edit, beat a concurrent edit of a store without times.
/// </summary>
public class SourceChangedAfterCopyTests
{
    private const string Setup = """
        name: test
        folders:
          docs: {}
        services:
          A: { driver: landing_storage, options: { root: A }, folders: { docs: docs } }
          B: { driver: local_storage, options: { root: B }, folders: { docs: docs } }
        """;

    [Test]
    public async Task A_copy_landed_from_a_source_that_changed_right_after_is_replaced_without_a_conflict()
    {
        await using var h = new SyncHarness(Setup);
        var landing = new LandingFactory();
        h.ExtraDrivers.Add(landing);
        h.Write("B", "docs/notes.txt", "first");
        await h.SyncExpectingSuccessAsync();
        Assert.That(h.Read("A", "docs/notes.txt"), Is.EqualTo("first"));

        // The second version lands on A; then, before the engine looks at the source again, B changes once more.
        landing.AfterLanding = () => h.Write("B", "docs/notes.txt", "the third version");
        h.Write("B", "docs/notes.txt", "second");
        await h.SyncExpectingSuccessAsync();

        Assert.That(landing.Landed, Is.True, "the second version landed on A");
        foreach (var service in new[] { "A", "B" })
        {
            Assert.That(h.Read(service, "docs/notes.txt"), Is.EqualTo("the third version"), service);
            Assert.That(Directory.GetFiles(h.PathOf(service, "docs"), "notes.conflict-*"), Is.Empty, $"no conflict copy on {service}");
        }
        Assert.That(h.Events.OfType<ConflictDetected>(), Is.Empty, "the engine's own copy is no edit of A's");
    }

    [Test]
    public async Task A_first_copy_landed_from_a_source_deleted_right_after_is_deleted_too()
    {
        await using var h = new SyncHarness(Setup);
        var landing = new LandingFactory();
        h.ExtraDrivers.Add(landing);
        landing.AfterLanding = () => File.Delete(h.PathOf("B", "docs/notes.txt"));
        h.Write("B", "docs/notes.txt", "first");
        await h.SyncExpectingSuccessAsync();

        Assert.That(landing.Landed, Is.True, "the file landed on A");
        Assert.That(h.Exists("A", "docs/notes.txt"), Is.False, "deleted on A as on B");
        Assert.That(h.Exists("B", "docs/notes.txt"), Is.False, "not sent back to B");
    }

    /// <summary>local_storage reading each upload's content up to its size only, then running a hook once it landed.</summary>
    internal sealed class LandingFactory : IDriverFactory
    {
        private readonly LocalStorageDriverFactory _inner = new();

        public Action? AfterLanding { get; set; }
        public bool Landed { get; private set; }

        public DriverManifest Manifest { get; } = DriverManifest.Parse(LocalManifestJson()
            .Replace("\"local_storage\"", "\"landing_storage\"", StringComparison.Ordinal)
            .Replace("\"entryType\": \"Onitu.Drivers.LocalStorage.LocalStorageDriverFactory\"", $"\"entryType\": \"{typeof(LandingFactory).FullName}\"", StringComparison.Ordinal));

        private static string LocalManifestJson()
        {
            using var stream = typeof(LocalStorageDriverFactory).Assembly.GetManifestResourceStream(LocalStorageDriverFactory.ManifestResourceName)!;
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }

        public IDriver Create(IPlug plug) => new LandingDriver((LocalStorageDriver)_inner.Create(plug), this);

        private sealed class LandingDriver(LocalStorageDriver inner, LandingFactory factory) : IDriver
        {
            public Task ScanAsync(CancellationToken cancellationToken) => inner.ScanAsync(cancellationToken);
            public Task WatchAsync(CancellationToken cancellationToken) => inner.WatchAsync(cancellationToken);
            public ValueTask<Stream> OpenReadAsync(Metadata metadata, CancellationToken cancellationToken) => inner.OpenReadAsync(metadata, cancellationToken);
            public ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken) => inner.DeleteFileAsync(metadata, cancellationToken);

            public async ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken)
            {
                // Exactly the announced size, as a store taking a content length does: the end of the stream is never read.
                var buffer = new byte[metadata.Size];
                await content.ReadExactlyAsync(buffer, cancellationToken).ConfigureAwait(false);
                await inner.UploadFileAsync(metadata, new MemoryStream(buffer), cancellationToken).ConfigureAwait(false);
                if (metadata.Path == "notes.txt" && factory.AfterLanding is { } hook)
                {
                    factory.AfterLanding = null;
                    factory.Landed = true;
                    hook();
                }
            }

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }
}
