using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Onitu.Drivers.LocalStorage;
using Onitu.Setup;

namespace Onitu.Core.Tests.Engine;

/// <summary>
/// A scratch area with one directory per service, a setup written as YAML, and an engine over them with the real
/// local_storage driver and a real SQLite database.
/// </summary>
internal sealed class SyncHarness : IAsyncDisposable
{
    private SyncEngine? _engine;
    private int _engines;

    public SyncHarness(string yaml, Action<SyncEngineOptions>? configure = null)
    {
        Root = Path.Combine(Path.GetTempPath(), "onitu-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Root);
        SetupFile = Path.Combine(Root, "setup.yml");
        File.WriteAllText(SetupFile, yaml);
        Configure = configure;
    }

    public string Root { get; }
    public string SetupFile { get; }
    public Action<SyncEngineOptions>? Configure { get; set; }

    /// <summary>Drivers besides local_storage that the setup may name.</summary>
    public List<IDriverFactory> ExtraDrivers { get; } = [];

    /// <summary>The engine's clock (the system's unless a test sets another before the engine is created).</summary>
    public TimeProvider? Clock { get; set; }
    public List<SyncEvent> Events { get; } = [];

    /// <summary>Seconds per time unit (seed: ONITU_TEST_TIME_UNIT), to stretch timeouts on slow machines.</summary>
    public static double TimeUnit =>
        double.TryParse(Environment.GetEnvironmentVariable("ONITU_TEST_TIME_UNIT"), System.Globalization.CultureInfo.InvariantCulture, out var unit) && unit > 0 ? unit : 1;

    public static TimeSpan Timeout(double units = 20) => TimeSpan.FromSeconds(units * TimeUnit);

    public SyncEngine Engine => _engine ??= CreateEngine();

    public SyncEngine CreateEngine()
    {
        var options = new SyncEngineOptions
        {
            SetupFile = SetupFile,
            ChunkSize = 1024 * 1024,
            RetryBaseDelay = TimeSpan.FromMilliseconds(100),
            MaxRetryDelay = TimeSpan.FromSeconds(1),
        };
        Configure?.Invoke(options);
        // Warnings as the test runs; everything, printed if the test fails ([assembly: PrintRecordedLogOnFailure]).
        var logging = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug)
            .AddProvider(new TestContextLoggerProvider(LogLevel.Warning))
            .AddProvider(new RecordedLogProvider($"engine {++_engines} of {Path.GetFileName(Root)}")));
        var engine = SyncEngine.Create(options, [new LocalStorageDriverFactory(), .. ExtraDrivers], logging, Clock);
        engine.EventRaised += (_, e) => { lock (Events) Events.Add(e); };
        return engine;
    }

    /// <summary>Stops and disposes the current engine (as a clean shutdown would); the next use creates a new one.</summary>
    public async Task RestartAsync()
    {
        if (_engine is not null)
            await _engine.DisposeAsync();
        _engine = null;
    }

    public async Task<SyncReport> SyncAsync()
    {
        using var cts = new CancellationTokenSource(Timeout(60));
        var report = await Engine.SyncOnceAsync(cts.Token);
        return report;
    }

    public async Task SyncExpectingSuccessAsync()
    {
        var report = await SyncAsync();
        Assert.That(report.Errors, Is.Empty, "errors of the sync pass");
        Assert.That(report.PendingJobs, Is.Zero, "jobs left after the sync pass");
    }

    public string PathOf(string service, string relative = "") => Path.GetFullPath(Path.Combine(Root, service, relative));

    public void Write(string service, string relative, byte[] content, DateTime? modified = null)
    {
        var path = PathOf(service, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
        if (modified is { } m)
            File.SetLastWriteTimeUtc(path, m);
    }

    public void Write(string service, string relative, string content, DateTime? modified = null) =>
        Write(service, relative, System.Text.Encoding.UTF8.GetBytes(content), modified);

    public string Read(string service, string relative) => File.ReadAllText(PathOf(service, relative));

    public bool Exists(string service, string relative) => File.Exists(PathOf(service, relative));

    /// <summary>Every user file under a service's directory (temp files excluded) with its SHA-256.</summary>
    public SortedDictionary<string, string> Tree(string service, string relative = "")
    {
        var root = PathOf(service, relative);
        var tree = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (!Directory.Exists(root))
            return tree;
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            var name = Path.GetRelativePath(root, file).Replace('\\', '/');
            if (name.Split('/').Any(segment => segment.StartsWith(".onitu-", StringComparison.Ordinal))) // markers, temporary and staged files
                continue;
            using var stream = File.OpenRead(file);
            tree[name] = Convert.ToHexString(SHA256.HashData(stream));
        }
        return tree;
    }

    /// <summary>Waits until <paramref name="condition"/> holds, failing with <paramref name="what"/> after the timeout.</summary>
    public static Task EventuallyAsync(Func<bool> condition, string what, double units = 20) =>
        Eventually.HoldsAsync(condition, what, Timeout(units));

    public static byte[] RandomBytes(int size, int seed = 1)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public async ValueTask DisposeAsync()
    {
        if (_engine is not null)
            await _engine.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public static string TwoLocalServices(string folderOptions = "", string extraServiceA = "", string extraServiceB = "") => $"""
        name: test
        folders:
          docs:{(folderOptions.Length == 0 ? " {}" : "\n" + Indent(folderOptions, 4))}
        services:
          A:
            driver: local_storage
            options:
              root: A
            folders:
              docs:
                path: docs{(extraServiceA.Length == 0 ? "" : "\n" + Indent(extraServiceA, 8))}
          B:
            driver: local_storage
            options:
              root: B
            folders:
              docs:
                path: docs{(extraServiceB.Length == 0 ? "" : "\n" + Indent(extraServiceB, 8))}
        """;

    /// <summary>Services A, B and C, each mapping the folder docs on its own directory.</summary>
    public const string ThreeLocalServices = """
        name: test
        folders:
          docs: {}
        services:
          A: { driver: local_storage, options: { root: A }, folders: { docs: docs } }
          B: { driver: local_storage, options: { root: B }, folders: { docs: docs } }
          C: { driver: local_storage, options: { root: C }, folders: { docs: docs } }
        """;

    private static string Indent(string text, int spaces) =>
        string.Join("\n", text.Split('\n').Select(l => new string(' ', spaces) + l));
}
