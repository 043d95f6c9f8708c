using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using NUnit.Framework;
using Onitu.Drivers.LocalStorage;
using Onitu.Options;
using Onitu.Referee;
using Onitu.Setup;

namespace Onitu.Testing;

/// <summary>
/// The conformance suite for an Onitu driver. Inherit it in an NUnit test project, supply
/// <see cref="CreateFactory"/> and <see cref="CreateAreaAsync"/>, optionally <see cref="Capabilities"/>, and run
/// <c>dotnet test</c>. Each test runs the driver under test (service <c>subject</c>) through the real
/// <see cref="SyncEngine"/> against the local_storage reference driver (service <c>reference</c>) in a private
/// scratch directory with a real SQLite database, or calls its handlers directly. Every test is virtual: override
/// one (with a documented reason) to skip or adapt it.
/// </summary>
public abstract partial class DriverConformanceTests
{
    /// <summary>The one folder every test syncs.</summary>
    public const string FolderName = "docs";

    /// <summary>The service of the driver under test.</summary>
    public const string SubjectService = "subject";

    /// <summary>The service of the reference driver (local_storage).</summary>
    public const string ReferenceService = "reference";

    /// <summary>The engine's chunk size in these tests: odd, so chunk boundaries fall on odd offsets.</summary>
    public const int OddChunkSize = 262_147;

    private readonly List<IAsyncDisposable> _drivers = [];
    private readonly List<SyncEvent> _events = [];
    private CancellationTokenSource? _cancellation;
    private string? _scratch;
    private DriverTestArea? _area;
    private IDriverFactory? _factory;
    private SyncEngine? _engine;
    private ILoggerFactory? _loggers;
    private ConformancePlug? _probePlug;
    private IDriver? _probe;
    private MemoryDriverStateStore _state = new();

    /// <summary>Creates the factory of the driver under test (called once per test).</summary>
    protected abstract IDriverFactory CreateFactory();

    /// <summary>
    /// Creates a fresh, isolated storage area for one test: the service options and the folder path. It must be
    /// empty; its cleanup runs after the test.
    /// </summary>
    /// <param name="scratchDirectory">A private local directory for this test (deleted after it), for drivers that
    /// store on disk or need local files.</param>
    /// <param name="cancellationToken">The test's cancellation.</param>
    protected abstract ValueTask<DriverTestArea> CreateAreaAsync(string scratchDirectory, CancellationToken cancellationToken);

    /// <summary>What the driver under test declares it can do; tests needing more are skipped with the reason.</summary>
    protected virtual DriverCapabilities Capabilities => DriverCapabilities.Default;

    /// <summary>
    /// The manifest JSON checked by <see cref="Manifest_is_valid_against_the_manifest_schema"/>. By default the
    /// factory's <see cref="IDriverFactory.Manifest"/> written back as JSON; return your manifest.json's text to
    /// check the file itself.
    /// </summary>
    protected virtual string GetManifestJson() => ManifestJson.Write(Factory.Manifest);

    /// <summary>Seconds per time unit, from <c>ONITU_TEST_TIME_UNIT</c> (default 1): stretches every timeout.</summary>
    public static double TimeUnit =>
        double.TryParse(Environment.GetEnvironmentVariable("ONITU_TEST_TIME_UNIT"), NumberStyles.Float, CultureInfo.InvariantCulture, out var unit)
        && unit > 0 ? unit : 1;

    /// <summary>A duration of <paramref name="units"/> time units.</summary>
    /// <param name="units">How many units.</param>
    public static TimeSpan Scaled(double units) => TimeSpan.FromSeconds(units * TimeUnit);

    /// <summary>How many time units a test may take before it is cancelled (default 60).</summary>
    protected virtual double TestTimeoutUnits => 60;

    /// <summary>The current test's cancellation: cancelled after <see cref="TestTimeoutUnits"/>.</summary>
    protected CancellationToken Cancellation => _cancellation?.Token ?? throw NotSetUp();

    /// <summary>The current test's private scratch directory, deleted after the test.</summary>
    protected string Scratch => _scratch ?? throw NotSetUp();

    /// <summary>The current test's storage area of the driver under test.</summary>
    protected DriverTestArea Area => _area ?? throw NotSetUp();

    /// <summary>The factory of the driver under test.</summary>
    protected IDriverFactory Factory => _factory ?? throw NotSetUp();

    /// <summary>The root of the reference service (its folder is <see cref="FolderName"/> below it).</summary>
    protected string ReferenceRoot => Path.Combine(Scratch, "reference");

    /// <summary>Every event the engines of this test raised.</summary>
    protected IReadOnlyList<SyncEvent> Events
    {
        get
        {
            lock (_events)
                return [.. _events];
        }
    }

    /// <summary>Prepares a test: cancellation, scratch directory, factory, storage area.</summary>
    [SetUp]
    public virtual async Task SetUpConformanceAsync()
    {
        _cancellation = new CancellationTokenSource(Scaled(TestTimeoutUnits));
        _scratch = Path.Combine(Path.GetTempPath(), "onitu-conformance", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path.Combine(_scratch, "reference", FolderName));
        _state = new MemoryDriverStateStore();
        _factory = CreateFactory();
        _area = await CreateAreaAsync(Path.Combine(_scratch, "subject-area"), _cancellation.Token).ConfigureAwait(false);
    }

    /// <summary>Ends a test: disposes engines and driver instances, the area, and deletes the scratch directory.</summary>
    [TearDown]
    public virtual async Task TearDownConformanceAsync()
    {
        try
        {
            await StopEngineAsync().ConfigureAwait(false);
            foreach (var driver in _drivers)
            {
                try
                {
                    await driver.DisposeAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException)
                {
                }
            }
            _drivers.Clear();
            _probe = null;
            _probePlug = null;
            if (_area is not null)
                await _area.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _area = null;
            _loggers?.Dispose();
            _loggers = null;
            _cancellation?.Dispose();
            _cancellation = null;
            if (_scratch is not null)
            {
                try
                {
                    Directory.Delete(_scratch, recursive: true);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                }
            }
            _scratch = null;
            lock (_events)
                _events.Clear();
        }
    }

    // ---- The engine ----

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

    // ---- The driver under test, called directly ----

    /// <summary>
    /// A new plug for a direct instance of the driver under test, with the area's options validated against its
    /// manifest and the test's shared state store (so a second instance sees what the first stored).
    /// </summary>
    protected ConformancePlug CreateSubjectPlug()
    {
        var result = new OptionsValidator().Validate(SubjectService, Factory.Manifest, Area.Options);
        if (!result.IsValid)
            Assert.Fail($"The area's options are not valid for the driver's manifest:\n  {string.Join("\n  ", result.Errors)}");
        _loggers ??= LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning).AddProvider(new TestContextLoggerProvider()));
        return new ConformancePlug(SubjectService, [new FolderMapping(FolderName, Area.FolderPath)], result.Options!, Scratch, _state,
            _loggers.CreateLogger($"Onitu.Testing.{Factory.Manifest.Id}"));
    }

    /// <summary>A new direct instance of the driver under test, disposed after the test.</summary>
    /// <param name="plug">Its plug (see <see cref="CreateSubjectPlug"/>).</param>
    protected IDriver CreateSubjectDriver(ConformancePlug plug)
    {
        var driver = Factory.Create(plug);
        _drivers.Add(driver);
        return driver;
    }

    /// <summary>The direct instance the helpers below use to put, read and delete files on the driver under test.</summary>
    protected IDriver Probe
    {
        get
        {
            if (_probe is null)
            {
                _probePlug = CreateSubjectPlug();
                _probe = CreateSubjectDriver(_probePlug);
            }
            return _probe;
        }
    }

    /// <summary>The plug of <see cref="Probe"/>.</summary>
    protected ConformancePlug ProbePlug
    {
        get
        {
            _ = Probe;
            return _probePlug!;
        }
    }

    /// <summary>
    /// UploadFile reads its content with <c>ReadAsync</c>/<c>CopyToAsync</c> only: the engine hands it streams read
    /// over the network (SFTP) or through the bandwidth limit, which have no synchronous read.
    /// </summary>
    [Test]
    public virtual async Task An_upload_reads_its_content_asynchronously()
    {
        // A small file and a larger one: drivers often copy small files another way.
        foreach (var (path, size) in new[] { ("async/small.bin", 10_007), ("async/large.bin", 300 * 1024 + 7) })
        {
            var content = Content(size, 1150 + size % 7);
            await PutOnSubjectAsync(path, content).ConfigureAwait(false);
            Assert.That(await ReadFromSubjectAsync(path).ConfigureAwait(false), Is.EqualTo(content), $"'{path}' on the driver under test");
        }
    }

    /// <summary>Writes a file on the driver under test through its UploadFile handler.</summary>
    /// <param name="path">The path in the folder.</param>
    /// <param name="content">The content.</param>
    protected async Task PutOnSubjectAsync(string path, byte[] content)
    {
        ArgumentNullException.ThrowIfNull(content);
        for (var attempt = 0; ; attempt++)
        {
            var metadata = ProbePlug.Known(FolderName, path);
            metadata.Size = content.Length;
            metadata.ModifiedAt = DateTimeOffset.UtcNow;
            using var stream = new AsyncOnlyContent(content);
            try
            {
                await Probe.UploadFileAsync(metadata, stream, Cancellation).ConfigureAwait(false);
                if (stream.ReadSynchronously)
                    Assert.Fail(AsyncOnlyContent.Fault(path));
                ProbePlug.Remember(metadata);
                return;
            }
            catch (NotSupportedException) when (stream.ReadSynchronously)
            {
                Assert.Fail(AsyncOnlyContent.Fault(path));
            }
            catch (ContentChangedException) when (attempt < 3)
            {
                // The file changed since the probe knew it (the engine wrote it); the driver reported it: try again.
                await Probe.ScanAsync(Cancellation).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Deletes a file on the driver under test through its DeleteFile handler.</summary>
    /// <param name="path">The path in the folder.</param>
    protected async Task DeleteOnSubjectAsync(string path)
    {
        for (var attempt = 0; ; attempt++)
        {
            var metadata = ProbePlug.Known(FolderName, path);
            try
            {
                await Probe.DeleteFileAsync(metadata, Cancellation).ConfigureAwait(false);
                ProbePlug.Forget(metadata);
                return;
            }
            catch (ContentChangedException) when (attempt < 3)
            {
                await Probe.ScanAsync(Cancellation).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Reads a whole file from the driver under test (OpenRead), or null when it throws <see cref="RemoteFileNotFoundException"/>.</summary>
    /// <param name="path">The path in the folder.</param>
    protected async Task<byte[]?> ReadFromSubjectAsync(string path)
    {
        try
        {
            var stream = await Probe.OpenReadAsync(new Metadata(FolderName, path), Cancellation).ConfigureAwait(false);
            await using var disposeStream = stream.ConfigureAwait(false);
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy, Cancellation).ConfigureAwait(false);
            return copy.ToArray();
        }
        catch (RemoteFileNotFoundException)
        {
            return null;
        }
    }

    // ---- The reference side (a plain local directory) ----

    /// <summary>The full path of a file of the reference folder.</summary>
    /// <param name="path">The path in the folder.</param>
    protected string ReferencePath(string path) => Path.Combine(ReferenceRoot, FolderName, path);

    /// <summary>Writes a file in the reference folder.</summary>
    /// <param name="path">The path in the folder.</param>
    /// <param name="content">The content.</param>
    protected void WriteReference(string path, byte[] content)
    {
        var full = ReferencePath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, content);
    }

    /// <summary>Reads a file of the reference folder, or null when it is not there.</summary>
    /// <param name="path">The path in the folder.</param>
    protected byte[]? ReadReference(string path)
    {
        try
        {
            return File.ReadAllBytes(ReferencePath(path));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    // ---- Assertions ----

    /// <summary>
    /// Fails unless the driver under test holds <paramref name="path"/> with exactly <paramref name="expected"/>, read
    /// through the driver and, when the area has one, through its independent <see cref="DriverTestArea.View"/>.
    /// </summary>
    /// <param name="path">The path in the folder.</param>
    /// <param name="expected">The expected content.</param>
    protected async Task AssertOnSubjectAsync(string path, byte[] expected)
    {
        AssertSameContent(expected, await ReadFromSubjectAsync(path).ConfigureAwait(false), path, $"the driver under test ('{SubjectService}')");
        if (Area.View is { } view)
        {
            AssertSameContent(expected, await view.ReadAsync(path, Cancellation).ConfigureAwait(false), path,
                $"the store of the driver under test, read through the area's independent view ({view.GetType().Name}), though the driver reads it back right");
        }
    }

    /// <summary>
    /// Changes a file of the driver under test as another client of the store would, behind <see cref="Probe"/>'s back:
    /// through the area's <see cref="DriverTestArea.View"/> when it has one, else through a second instance of the
    /// driver. The content given should differ in size from the file's, so that any revision scheme sees the change.
    /// </summary>
    /// <param name="path">The path in the folder.</param>
    /// <param name="content">The new content.</param>
    protected async Task ChangeBehindTheDriverAsync(string path, byte[] content)
    {
        ArgumentNullException.ThrowIfNull(content);
        if (Area.View is { } view)
        {
            await view.WriteAsync(path, content, Cancellation).ConfigureAwait(false);
            return;
        }
        var other = CreateSubjectDriver(CreateSubjectPlug());
        var metadata = ProbePlug.Known(FolderName, path);
        metadata.Size = content.Length;
        metadata.ModifiedAt = DateTimeOffset.UtcNow;
        using var stream = new MemoryStream(content, writable: false);
        await other.UploadFileAsync(metadata, stream, Cancellation).ConfigureAwait(false);
    }

    /// <summary>Fails unless the reference folder holds <paramref name="path"/> with exactly <paramref name="expected"/>.</summary>
    /// <param name="path">The path in the folder.</param>
    /// <param name="expected">The expected content.</param>
    protected void AssertOnReference(string path, byte[] expected) =>
        AssertSameContent(expected, ReadReference(path), path, $"the reference ('{ReferenceService}')");

    /// <summary>Fails when the driver under test still holds <paramref name="path"/>.</summary>
    /// <param name="path">The path in the folder.</param>
    protected async Task AssertAbsentOnSubjectAsync(string path)
    {
        if (await ReadFromSubjectAsync(path).ConfigureAwait(false) is { } content)
            Assert.Fail($"'{path}' is still on the driver under test ('{SubjectService}', {content.Length} bytes); it should be gone.");
    }

    /// <summary>Fails when the reference folder still holds <paramref name="path"/>.</summary>
    /// <param name="path">The path in the folder.</param>
    protected void AssertAbsentOnReference(string path)
    {
        if (ReadReference(path) is { } content)
            Assert.Fail($"'{path}' is still on the reference ('{ReferenceService}', {content.Length} bytes); it should be gone.");
    }

    /// <summary>Fails, saying which file, which side, the sizes and the first differing byte, unless the contents are equal.</summary>
    /// <param name="expected">The expected content.</param>
    /// <param name="actual">The content found, or null when the file is missing.</param>
    /// <param name="path">The file, for the message.</param>
    /// <param name="side">Where it was read, for the message.</param>
    public static void AssertSameContent(byte[] expected, byte[]? actual, string path, string side)
    {
        ArgumentNullException.ThrowIfNull(expected);
        if (Describe(expected, actual) is { } difference)
            Assert.Fail($"'{path}' on {side}: {difference}.");
    }

    /// <summary>Null when equal, else what differs (missing, sizes, first differing byte offset).</summary>
    /// <param name="expected">The expected content.</param>
    /// <param name="actual">The content found, or null when missing.</param>
    public static string? Describe(byte[] expected, byte[]? actual)
    {
        ArgumentNullException.ThrowIfNull(expected);
        if (actual is null)
            return $"missing (expected {expected.Length} bytes)";
        var common = expected.AsSpan().CommonPrefixLength(actual);
        if (common == expected.Length && common == actual.Length)
            return null;
        var sizes = $"expected {expected.Length} bytes, found {actual.Length} bytes";
        return common == Math.Min(expected.Length, actual.Length)
            ? $"{sizes}; the first {common} bytes agree (the {(actual.Length < expected.Length ? "end is missing" : "file has extra bytes")})"
            : $"{sizes}; first differing byte at offset {common} (expected 0x{expected[common]:X2}, found 0x{actual[common]:X2})";
    }

    /// <summary>Waits until <paramref name="condition"/> holds; on timeout fails with <paramref name="what"/> and, if given, the state found.</summary>
    /// <param name="condition">The condition, polled.</param>
    /// <param name="what">What is awaited.</param>
    /// <param name="units">The timeout in time units.</param>
    /// <param name="state">Describes what was found, for the failure message.</param>
    protected async Task EventuallyAsync(Func<Task<bool>> condition, string what, double units = 20, Func<Task<string>>? state = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = DateTime.UtcNow + Scaled(units);
        while (true)
        {
            try
            {
                if (await condition().ConfigureAwait(false))
                    return;
            }
            catch (IOException)
            {
            }
            if (DateTime.UtcNow > deadline)
            {
                var found = state is null ? "" : "\n" + await state().ConfigureAwait(false);
                var errors = Events.OfType<TransferFailed>().Select(f => $"{f.Service} {f.Folder}:{f.Path}: {f.Error}").Distinct().Take(10).ToList();
                Assert.Fail($"Timed out after {Scaled(units).TotalSeconds} s waiting for: {what}{found}" +
                            (errors.Count == 0 ? "" : "\nTransfer failures:\n  " + string.Join("\n  ", errors)));
            }
            await Task.Delay(50, Cancellation).ConfigureAwait(false);
        }
    }

    /// <summary>Deterministic pseudo-random bytes.</summary>
    /// <param name="size">How many.</param>
    /// <param name="seed">Which.</param>
    public static byte[] Content(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Skips the test unless the driver implements <typeparamref name="T"/>.</summary>
    /// <typeparam name="T">The capability interface.</typeparam>
    /// <param name="driver">The driver.</param>
    protected static T Require<T>(IDriver driver) where T : class
    {
        if (driver is T capable)
            return capable;
        Assert.Ignore($"The driver under test ({driver?.GetType().Name}) does not implement {typeof(T).Name}.");
        return null!;
    }

    /// <summary>Skips the test unless the driver declares change notifications.</summary>
    protected void RequireChangeNotifications()
    {
        if (!Capabilities.ChangeNotifications)
            Assert.Ignore("The driver under test declares no change notifications (DriverCapabilities.ChangeNotifications = false); live tests are skipped.");
    }

    private static InvalidOperationException NotSetUp() =>
        new("The conformance fixture is not set up: call SetUpConformanceAsync first (NUnit does so before each test).");

    /// <summary>Writes a manifest as the JSON of a manifest.json file.</summary>
    internal static class ManifestJson
    {
        public static string Write(DriverManifest manifest)
        {
            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            {
                json.WriteStartObject();
                json.WriteString("id", manifest.Id);
                json.WriteString("name", manifest.Name);
                json.WriteString("description", manifest.Description);
                if (manifest.EntryType is { } entry)
                    json.WriteString("entryType", entry);
                json.WriteStartObject("options");
                foreach (var (key, option) in manifest.Options)
                {
                    json.WriteStartObject(key);
                    json.WriteString("name", option.Name);
                    json.WriteString("description", option.Description);
                    json.WriteString("type", option.Type.ToString().ToLowerInvariant());
                    if (option.Values.Count > 0)
                    {
                        json.WriteStartArray("values");
                        foreach (var value in option.Values)
                            json.WriteStringValue(value);
                        json.WriteEndArray();
                    }
                    if (option.HasDefault)
                    {
                        json.WritePropertyName("default");
                        JsonSerializer.Serialize(json, option.Default);
                    }
                    if (option.IsSecret)
                        json.WriteBoolean("secret", true);
                    json.WriteEndObject();
                }
                json.WriteEndObject();
                json.WriteEndObject();
            }
            return Encoding.UTF8.GetString(buffer.ToArray());
        }
    }

    private sealed class TestContextLoggerProvider : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new TestContextLogger(categoryName);

        public void Dispose()
        {
        }

        private sealed class TestContextLogger(string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                TestContext.Progress.WriteLine($"[{logLevel}] {category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception.GetType().Name + ": " + exception.Message)}");
        }
    }
}
