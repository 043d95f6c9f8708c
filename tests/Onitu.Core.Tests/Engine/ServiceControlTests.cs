using Onitu.Rules;
using Onitu.Setup;

namespace Onitu.Core.Tests.Engine;

/// <summary>Per-service control, rule reloads and the event stream's end, on a running engine over real folders.</summary>
public class ServiceControlTests
{
    private static async Task<SyncHarness> StartedAsync(string yaml, Action<SyncEngineOptions>? configure = null)
    {
        var h = new SyncHarness(yaml, configure);
        Directory.CreateDirectory(h.PathOf("A", "docs"));
        Directory.CreateDirectory(h.PathOf("B", "docs"));
        await h.Engine.StartAsync();
        await h.Engine.WaitUntilIdleAsync(new CancellationTokenSource(SyncHarness.Timeout()).Token);
        return h;
    }

    private static ServiceState StateOf(SyncHarness h, string service) =>
        h.Engine.GetServiceStatuses().Single(s => s.Name == service).State;

    [Test]
    public async Task A_stopped_service_receives_nothing_until_it_is_started_again()
    {
        await using var h = await StartedAsync(SyncHarness.TwoLocalServices());

        await h.Engine.StopServiceAsync("B");
        Assert.That(StateOf(h, "B"), Is.EqualTo(ServiceState.Stopped));
        h.Write("A", "docs/while-stopped.txt", "waits");
        await SyncHarness.EventuallyAsync(() => h.Engine.GetProgress().PendingJobs == 1, "the transfer to B is persisted");
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        Assert.That(h.Exists("B", "docs/while-stopped.txt"), Is.False, "nothing is written to a stopped service");
        Assert.That(StateOf(h, "A"), Is.EqualTo(ServiceState.Running), "the other service goes on");

        await h.Engine.StartServiceAsync("B");
        await SyncHarness.EventuallyAsync(() => h.Exists("B", "docs/while-stopped.txt"), "the file reaches B once it is started");
        Assert.That(StateOf(h, "B"), Is.EqualTo(ServiceState.Running));
    }

    // A chunked transfer of 6 s: 6 MiB in 256 KiB chunks at 1 MiB/s.
    private const int Chunk = 256 * 1024;
    private const int BigSize = 24 * Chunk;

    private static void Slowly(SyncEngineOptions o)
    {
        o.ChunkSize = Chunk;
        o.BandwidthLimit = 1024 * 1024;
    }

    private static Task TransferUnderWayAsync(SyncHarness h) =>
        SyncHarness.EventuallyAsync(() => h.Engine.GetProgress() is { ActiveTransfers: 1, BytesTransferred: >= 2 * Chunk }, "the transfer under way");

    /// <summary>Checks that no byte reaches any target for a while.</summary>
    private static async Task AssertNothingMovesAsync(SyncHarness h, string what)
    {
        var before = h.Engine.GetProgress().BytesTransferred;
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.That(h.Engine.GetProgress().BytesTransferred, Is.EqualTo(before), what);
    }

    private static Task<FileSynced> SyncedAsync(SyncHarness h, string path) =>
        Task.Run(async () =>
        {
            while (true)
            {
                lock (h.Events)
                {
                    if (h.Events.OfType<FileSynced>().FirstOrDefault(e => e.Path == path) is { } synced)
                        return synced;
                }
                await Task.Delay(20);
            }
        }).WaitAsync(SyncHarness.Timeout());

    [Test]
    public async Task Stopping_a_service_stops_the_transfers_to_it_in_flight_and_they_resume_when_it_starts_again()
    {
        await using var h = await StartedAsync(SyncHarness.TwoLocalServices(), Slowly);
        var content = SyncHarness.RandomBytes(BigSize);
        h.Write("A", "docs/big.bin", content);
        await TransferUnderWayAsync(h);

        await h.Engine.StopServiceAsync("B");

        Assert.That(h.Engine.GetProgress().ActiveTransfers, Is.Zero, "the stop returns once the transfer to B stopped");
        await AssertNothingMovesAsync(h, "nothing is written to B once it is stopped");
        var pending = await h.Engine.GetTransfersAsync();
        Assert.That(pending, Has.Count.EqualTo(1), "the transfer stays persisted");
        Assert.That(pending[0].Offset, Is.GreaterThan(0).And.LessThan(BigSize), "with its saved offset");
        Assert.That(h.Exists("B", "docs/big.bin"), Is.False);

        await h.Engine.StartServiceAsync("B");
        var synced = await SyncedAsync(h, "big.bin");
        Assert.That(synced.Resumed, Is.True, "resumed at its saved offset, not started over");
        Assert.That(File.ReadAllBytes(h.PathOf("B", "docs/big.bin")), Is.EqualTo(content));
    }

    [Test]
    public async Task Stopping_a_service_stops_the_transfers_from_it_in_flight_and_they_resume_when_it_starts_again()
    {
        await using var h = await StartedAsync(SyncHarness.TwoLocalServices(), Slowly);
        var content = SyncHarness.RandomBytes(BigSize);
        h.Write("A", "docs/big.bin", content);
        await TransferUnderWayAsync(h);

        await h.Engine.StopServiceAsync("A");

        await AssertNothingMovesAsync(h, "nothing is read from A once it is stopped");
        Assert.That(await h.Engine.GetTransfersAsync(), Has.Count.EqualTo(1), "the transfer stays persisted");
        Assert.That(h.Exists("B", "docs/big.bin"), Is.False);

        await h.Engine.StartServiceAsync("A");
        var synced = await SyncedAsync(h, "big.bin");
        Assert.That(synced.Resumed, Is.True, "resumed at its saved offset, not started over");
        Assert.That(File.ReadAllBytes(h.PathOf("B", "docs/big.bin")), Is.EqualTo(content));
    }

    [Test]
    public async Task Control_of_an_unknown_or_wrongly_stated_service_is_refused_with_the_seeds_reasons()
    {
        await using var h = await StartedAsync(SyncHarness.TwoLocalServices());

        var unknown = Assert.ThrowsAsync<ServiceNotFoundException>(() => h.Engine.StopServiceAsync("Z"));
        Assert.That(unknown!.Message, Is.EqualTo("entry Z not found"));
        var running = Assert.ThrowsAsync<ServiceStateConflictException>(() => h.Engine.StartServiceAsync("A"));
        Assert.That(running!.Message, Is.EqualTo("entry A is already running"));

        await h.Engine.StopServiceAsync("A");
        var stopped = Assert.ThrowsAsync<ServiceStateConflictException>(() => h.Engine.StopServiceAsync("A"));
        Assert.That(stopped!.Message, Is.EqualTo("entry A is already stopped"));
        var restart = Assert.ThrowsAsync<ServiceStateConflictException>(() => h.Engine.RestartServiceAsync("A"));
        Assert.That(restart!.Message, Is.EqualTo("entry A is not running"));
        Assert.ThrowsAsync<ServiceStateConflictException>(() => h.Engine.RescanAsync("A"));

        await h.Engine.StopAsync();
        Assert.ThrowsAsync<ServiceStateConflictException>(() => h.Engine.StartServiceAsync("A"), "the engine itself is stopped");
    }

    [Test]
    public async Task Restart_and_rescan_scan_the_service_again()
    {
        await using var h = await StartedAsync(SyncHarness.TwoLocalServices());
        int Scans() { lock (h.Events) return h.Events.OfType<ServiceStateChanged>().Count(e => e.Service == "A" && e.State == ServiceState.Scanning); }
        var before = Scans();

        await h.Engine.RestartServiceAsync("A");
        await SyncHarness.EventuallyAsync(() => Scans() == before + 1 && StateOf(h, "A") == ServiceState.Running, "A scanned again after a restart");

        await h.Engine.RescanAsync("A");
        await SyncHarness.EventuallyAsync(() => Scans() == before + 2 && StateOf(h, "A") == ServiceState.Running, "A scanned again after a rescan");

        h.Write("A", "docs/after.txt", "still watching");
        await SyncHarness.EventuallyAsync(() => h.Exists("B", "docs/after.txt"), "A still watches after both");
    }

    [Test]
    public async Task Event_readers_end_when_the_engine_stops_and_at_once_after_it_is_disposed()
    {
        var h = await StartedAsync(SyncHarness.TwoLocalServices());
        var seen = new List<SyncEvent>();
        var reader = Task.Run(async () =>
        {
            await foreach (var e in h.Engine.ReadEventsAsync())
                lock (seen) seen.Add(e);
        });
        h.Write("A", "docs/x.txt", "x");
        await SyncHarness.EventuallyAsync(() => { lock (seen) return seen.OfType<FileSynced>().Any(); }, "the reader sees the sync");

        await h.Engine.StopAsync();
        Assert.That(await Task.WhenAny(reader, Task.Delay(SyncHarness.Timeout(5))), Is.SameAs(reader), "the reader ended with the stop");

        var engine = h.Engine;
        await h.DisposeAsync();
        var late = engine.ReadEventsAsync().GetAsyncEnumerator();
        var more = late.MoveNextAsync().AsTask();
        Assert.That(await Task.WhenAny(more, Task.Delay(SyncHarness.Timeout(5))), Is.SameAs(more), "a reader after dispose ends at once");
        Assert.That(await more, Is.False);
    }

    [Test]
    public async Task A_reload_sends_what_the_new_rules_let_through_and_keeps_subscribers()
    {
        await using var h = await StartedAsync(SyncHarness.TwoLocalServices("blacklist: ['*.tmp']"));
        using var cts = new CancellationTokenSource(SyncHarness.Timeout());
        var synced = new List<string>();
        var reader = Task.Run(async () =>
        {
            await foreach (var e in h.Engine.ReadEventsAsync(cts.Token))
                if (e is FileSynced s) lock (synced) synced.Add(s.Path);
        });
        h.Write("A", "docs/kept.tmp", "held back");
        h.Write("A", "docs/sent.txt", "sent");
        await SyncHarness.EventuallyAsync(() => h.Exists("B", "docs/sent.txt"), "sent.txt on B");
        Assert.That(h.Exists("B", "docs/kept.tmp"), Is.False);

        var open = h.Engine.Setup.WithRules([new("docs", FolderRules.Empty)], new Dictionary<string, IReadOnlyDictionary<string, FolderRules>>());
        var added = await h.Engine.ReloadAsync(open);

        Assert.That(added, Is.EqualTo(1), "one file now passes");
        await SyncHarness.EventuallyAsync(() => h.Exists("B", "docs/kept.tmp"), "kept.tmp reaches B under the new rules");
        await SyncHarness.EventuallyAsync(() => { lock (synced) return synced.Contains("kept.tmp"); }, "the subscriber from before the reload sees it");
        Assert.That(h.Engine.Setup.Folders["docs"].Blacklist, Is.Empty);
    }

    [Test]
    public async Task A_reload_that_changes_a_service_is_refused_naming_it()
    {
        await using var h = await StartedAsync(SyncHarness.TwoLocalServices());
        var moved = SetupLoader.Parse(SyncHarness.TwoLocalServices().Replace("root: B", "root: C", StringComparison.Ordinal), h.SetupFile);

        var error = Assert.ThrowsAsync<SetupException>(() => h.Engine.ReloadAsync(moved));

        Assert.That(error!.Message, Does.Contain("services.B.options").And.Contain("cannot change"));
    }

    [Test]
    public async Task A_reload_of_a_broken_setup_file_names_its_rule_and_option_problems_at_once()
    {
        await using var h = await StartedAsync(SyncHarness.TwoLocalServices());
        File.WriteAllText(h.SetupFile, SyncHarness.TwoLocalServices("max-size: huge").Replace("root: B", "root: B\n      fsync: sometimes", StringComparison.Ordinal));

        var error = Assert.ThrowsAsync<SetupException>(() => h.Engine.ReloadAsync());

        Assert.That(error!.Errors.Select(e => e.Key), Is.EqualTo(new[] { "folders.docs.max-size", "services.B.options.fsync" }), error.Message);
    }
}
