using System.Globalization;
using System.Security.Cryptography;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.Extensions.Logging;
using Onitu.Drivers.LocalStorage;

namespace Onitu.Cli.Tests;

/// <summary>
/// Model-based convergence: three local services of one folder, random sequences of edits (create, overwrite,
/// append, delete, rename a file, rename a directory, swap a file and a directory), losses of the state database and
/// kills of a child <c>onitu sync</c> at a random moment. After each sync the three trees are equal, and every content
/// written on some service since the previous sync still exists somewhere (conflict copies count): the only contents
/// a sync may remove are older ones, replaced or deleted by a newer write.
/// </summary>
/// <remarks>
/// Scenarios are generated with FsCheck from a seed printed on failure; <c>ONITU_MODEL_SEED</c> replays one. The
/// default run is the same every time (the seeds of bugs this test found, then a fixed sequence): a test suite that
/// draws new scenarios on every run fails at random the day it finds the next bug, in somebody else's change.
/// <c>ONITU_MODEL_SCENARIOS=N</c> explores N random scenarios instead; a seed it finds is fixed, then added to
/// <see cref="FoundSeeds"/>.
/// </remarks>
public class ConvergenceModelTests
{
    private static readonly string[] Services = ["A", "B", "C"];
    // Few names, so that edits collide: "x" is both a file and a directory ("x/y") in some scenarios.
    private static readonly string[] Names = ["a.txt", "b.bin", "d1/c.txt", "d1/e.txt", "d2/f.txt", "x", "x/y.txt"];
    private static readonly string[] Directories = ["d1", "d2", "d3"];

    private abstract record Step;
    private sealed record Write(string Service, string Name, int Seed, bool Append) : Step;
    private sealed record Delete(string Service, string Name) : Step;
    private sealed record RenameFile(string Service, string From, string To) : Step;
    private sealed record RenameDirectory(string Service, string From, string To) : Step;
    private sealed record Swap(string Service, string Name) : Step;
    private sealed record LoseDatabase : Step;
    private sealed record Sync : Step;
    private sealed record KillDuringSync(int AfterMilliseconds) : Step;

    private static Gen<Step> StepGen()
    {
        var service = Gen.Elements(Services);
        var name = Gen.Elements(Names);
        return Gen.Frequency(
            (6, from s in service from n in name from seed in Gen.Choose(0, 1000) from append in Gen.Elements(false, false, true)
                select (Step)new Write(s, n, seed, append)),
            (2, from s in service from n in name select (Step)new Delete(s, n)),
            (2, from s in service from f in name from t in name select (Step)new RenameFile(s, f, t)),
            (1, from s in service from f in Gen.Elements(Directories) from t in Gen.Elements(Directories) select (Step)new RenameDirectory(s, f, t)),
            (1, from s in service from n in Gen.Elements("x", "d1", "a.txt") select (Step)new Swap(s, n)),
            (1, Gen.Constant((Step)new LoseDatabase())),
            (4, Gen.Constant((Step)new Sync())),
            (1, from ms in Gen.Choose(0, 600) select (Step)new KillDuringSync(ms)));
    }

    private static List<Step> Scenario(ulong seed) =>
        [.. Gen.Sample(Gen.Choose(12, 30).SelectMany(length => Gen.ArrayOf(StepGen(), length)), 1, new Rnd(seed), 30).Single(),
            new Sync()];

    /// <summary>Scenarios that once failed (each fixed since): replayed first by every default run.</summary>
    /// <remarks>
    /// 2853982613448279312 failed once under load ("Refused to move …conflict-A-…-2.txt: it changed on disk", after a kill
    /// and a lost database) and passed its replays; the refusals it showed are fixed (FileAndDirectoryTests: a conflict
    /// name that turned up on its holder).
    /// </remarks>
    private static readonly ulong[] FoundSeeds = [2761561864842432222, 7347755886703488857, 3063171887238882921, 2853982613448279312];

    [Test]
    public async Task Three_services_converge_and_lose_no_new_content_under_random_edits_kills_and_lost_databases()
    {
        var replay = Environment.GetEnvironmentVariable("ONITU_MODEL_SEED");
        var explore = int.TryParse(Environment.GetEnvironmentVariable("ONITU_MODEL_SCENARIOS"), CultureInfo.InvariantCulture, out var n) ? n : 0;
        var fixedSequence = new System.Random(20261127);
        List<ulong> seeds = replay is not null ? [ulong.Parse(replay, CultureInfo.InvariantCulture)]
            : explore > 0 ? [.. Enumerable.Range(0, explore).Select(_ => (ulong)System.Random.Shared.NextInt64(1, long.MaxValue))]
            : [.. FoundSeeds, .. Enumerable.Range(0, 12).Select(_ => (ulong)fixedSequence.NextInt64(1, long.MaxValue))];
        // The default run stops starting scenarios after its budget; a longer run is asked for explicitly.
        var budget = replay is null && explore == 0 ? TimeSpan.FromSeconds(90) : TimeSpan.FromHours(2);
        using var timeout = new CancellationTokenSource(budget + TimeSpan.FromMinutes(2));
        var cancellationToken = timeout.Token;
        var started = DateTime.UtcNow;

        foreach (var seed in seeds)
        {
            if (DateTime.UtcNow - started > budget)
                break;
            var scenario = Scenario(seed);
            TestContext.Progress.WriteLine($"model scenario seed {seed}: {scenario.Count} steps, " +
                $"{scenario.Count(s => s is Sync or KillDuringSync)} syncs, {scenario.Count(s => s is KillDuringSync)} kills, " +
                $"{scenario.Count(s => s is LoseDatabase)} lost databases (replay: ONITU_MODEL_SEED={seed})");
            if (replay is not null)
                TestContext.Progress.WriteLine(string.Join("\n", scenario));
            var world = new World();
            try
            {
                await world.RunAsync(scenario, cancellationToken);
            }
            catch (Exception e) when (e is AssertionException or MultipleAssertException)
            {
                Assert.Fail($"Scenario with seed {seed} failed (replay with ONITU_MODEL_SEED={seed}):\n{string.Join("\n", world.Log)}\n{e.Message}");
            }
            finally
            {
                world.Dispose();
            }
        }
    }

    /// <summary>The three services' directories, the engine over them, and what was written since the last sync.</summary>
    private sealed class World : IDisposable
    {
        private readonly string _root = Path.Combine(Path.GetTempPath(), "onitu-model", Guid.NewGuid().ToString("N")[..12]);
        // The contents every service held after the previous sync (they were equal then).
        private HashSet<string> _synced = new(StringComparer.Ordinal);
        private DateTime _lastWrite = DateTime.UtcNow;

        public World()
        {
            foreach (var service in Services)
                Directory.CreateDirectory(Path.Combine(_root, service));
            File.WriteAllText(SetupFile, """
                name: model
                folders:
                  docs: {}
                services:
                  A: { driver: local_storage, options: { root: A }, folders: { docs: . } }
                  B: { driver: local_storage, options: { root: B }, folders: { docs: . } }
                  C: { driver: local_storage, options: { root: C }, folders: { docs: . } }
                """);
        }

        public List<string> Log { get; } = [];

        private string SetupFile => Path.Combine(_root, "setup.yml");

        private string PathOf(string service, string name) => Path.Combine(_root, service, name);

        public async Task RunAsync(IEnumerable<Step> steps, CancellationToken cancellationToken)
        {
            foreach (var step in steps)
            {
                Log.Add(step.ToString());
                switch (step)
                {
                    case Write w:
                        Apply(w);
                        break;
                    case Delete d when File.Exists(PathOf(d.Service, d.Name)):
                        File.Delete(PathOf(d.Service, d.Name));
                        break;
                    case RenameFile r when r.From != r.To && File.Exists(PathOf(r.Service, r.From)) && FreeForFile(r.Service, r.To)
                                            && !r.To.StartsWith(r.From + "/", StringComparison.Ordinal):
                        // Like mv: a file already at the new name is replaced.
                        Directory.CreateDirectory(Path.GetDirectoryName(PathOf(r.Service, r.To))!);
                        File.Move(PathOf(r.Service, r.From), PathOf(r.Service, r.To), overwrite: true);
                        break;
                    case RenameDirectory r when r.From != r.To && Directory.Exists(PathOf(r.Service, r.From)) && !Exists(r.Service, r.To):
                        Directory.Move(PathOf(r.Service, r.From), PathOf(r.Service, r.To));
                        break;
                    case Swap s:
                        SwapFileAndDirectory(s);
                        break;
                    case LoseDatabase:
                        foreach (var file in Directory.GetFiles(_root, "setup.state.db*"))
                            File.Delete(file);
                        break;
                    case Sync:
                        await SyncAndCheckAsync(cancellationToken);
                        break;
                    case KillDuringSync k:
                        await KillAsync(k.AfterMilliseconds);
                        await SyncAndCheckAsync(cancellationToken);
                        break;
                }
            }
        }

        private bool Exists(string service, string name) => File.Exists(PathOf(service, name)) || Directory.Exists(PathOf(service, name));

        /// <summary>Whether a file can be written at <paramref name="name"/>: no directory there, no file among its parents.</summary>
        private bool FreeForFile(string service, string name)
        {
            if (Directory.Exists(PathOf(service, name)))
                return false;
            for (var parent = Path.GetDirectoryName(name); !string.IsNullOrEmpty(parent); parent = Path.GetDirectoryName(parent))
            {
                if (File.Exists(PathOf(service, parent)))
                    return false;
            }
            return true;
        }

        private void Apply(Write w)
        {
            if (!FreeForFile(w.Service, w.Name))
                return;
            var path = PathOf(w.Service, w.Name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var bytes = System.Text.Encoding.UTF8.GetBytes($"{w.Service} wrote {w.Name} #{w.Seed}\n");
            if (w.Append && File.Exists(path))
            {
                using var stream = new FileStream(path, FileMode.Append);
                stream.Write(bytes);
            }
            else
            {
                File.WriteAllBytes(path, bytes);
            }
            // Writes a few microseconds apart get the same modification time from the kernel's coarse clock; renaming
            // one such file over another of the same size is then invisible to a size-and-time revision. That hole is
            // the integrity issue's ("revisions that notice every edit"); here every write gets its own time.
            _lastWrite = DateTime.UtcNow > _lastWrite.AddMilliseconds(10) ? DateTime.UtcNow : _lastWrite.AddMilliseconds(10);
            File.SetLastWriteTimeUtc(path, _lastWrite);
        }

        private void SwapFileAndDirectory(Swap s)
        {
            var path = PathOf(s.Service, s.Name);
            if (File.Exists(path))
            {
                File.Delete(path);
                Apply(new Write(s.Service, s.Name + "/swapped.txt", 7, Append: false));
            }
            else if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
                Apply(new Write(s.Service, s.Name, 8, Append: false));
            }
        }

        private async Task KillAsync(int afterMilliseconds)
        {
            using var child = OnituProcess.Start(_root, "sync", SetupFile, "--quiet");
            await Task.Delay(afterMilliseconds);
            child.Kill();
            Log.Add($"  killed after {afterMilliseconds} ms (exited by itself: {child.Output.Contains("propagated", StringComparison.Ordinal)})");
        }

        private async Task SyncAndCheckAsync(CancellationToken cancellationToken)
        {
            // The last version of what was written since the previous sync, on any service.
            var written = Services.SelectMany(s => Tree(s).Values).Where(c => !_synced.Contains(c)).ToHashSet(StringComparer.Ordinal);
            var options = new SyncEngineOptions
            {
                SetupFile = SetupFile,
                RetryBaseDelay = TimeSpan.FromMilliseconds(50),
                MaxRetryDelay = TimeSpan.FromMilliseconds(200),
                SyncMaxAttempts = 5,
            };
            SyncReport report;
            // The engine's log of each pass goes into the failure message: a race is seldom replayed by its seed.
            using (var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(new LogCollector(Log))))
            await using (var engine = SyncEngine.Create(options, [new LocalStorageDriverFactory()], loggers))
                report = await engine.SyncOnceAsync(cancellationToken);

            var trees = Services.ToDictionary(s => s, Tree);
            Log.Add($"  synced: {report.FilesSynced} done, {report.PendingJobs} left; A = {string.Join(", ", trees["A"].Keys)}");
            Assert.That(report.Errors, Is.Empty, "the pass reported errors");
            foreach (var other in new[] { "B", "C" })
            {
                var differences = trees["A"].Keys.Union(trees[other].Keys)
                    .Where(k => trees["A"].GetValueOrDefault(k) != trees[other].GetValueOrDefault(k))
                    .Select(k => $"{k}: A {Describe("A", k)} / {other} {Describe(other, k)}").ToList();
                Assert.That(differences, Is.Empty, $"{other} differs from A after the sync");
            }
            var present = trees["A"].Values.ToHashSet(StringComparer.Ordinal);
            var lost = written.Where(c => !present.Contains(c)).ToList();
            Assert.That(lost, Is.Empty, "contents written since the previous sync that exist nowhere any more");
            _synced = present;
        }

        private string Describe(string service, string name) =>
            File.Exists(PathOf(service, name)) ? $"'{File.ReadAllText(PathOf(service, name)).Trim()}' ({File.GetLastWriteTimeUtc(PathOf(service, name)):HH:mm:ss.fffffff})" : "missing";

        private SortedDictionary<string, string> Tree(string service)
        {
            var root = Path.Combine(_root, service);
            var tree = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
            {
                var name = Path.GetRelativePath(root, file).Replace('\\', '/');
                if (name.Split('/').Any(segment => segment.StartsWith(".onitu-", StringComparison.Ordinal))) // markers, temporary and staged files
                    continue;
                tree[name] = Hash(File.ReadAllBytes(file));
            }
            return tree;
        }

        private static string Hash(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes));

        public void Dispose()
        {
            try
            {
                Directory.Delete(_root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Appends log lines to a world's log, in the order they are written.</summary>
    private sealed class LogCollector(List<string> log) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (log)
                log.Add($"    [{DateTime.UtcNow:HH:mm:ss.fff} {logLevel}] {formatter(state, exception)}");
        }

        public void Dispose() { }
    }
}
