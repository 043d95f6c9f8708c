using System.Globalization;
using Microsoft.Extensions.Logging;
using NUnit.Framework;

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

    private static InvalidOperationException NotSetUp() =>
        new("The conformance fixture is not set up: call SetUpConformanceAsync first (NUnit does so before each test).");
}
