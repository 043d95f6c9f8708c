using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json;
using Onitu.Diagnostics;

namespace Onitu.Core.Tests.Engine;

/// <summary>The engine's queries, meters, activities and JSON events, on real folders and a real database.</summary>
public class QueryAndMetricsTests
{
    [Test]
    public async Task Files_are_listed_a_page_at_a_time_with_owners_and_up_to_date_services()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        foreach (var name in new[] { "c.txt", "a.txt", "b/inner.txt" })
            h.Write("A", "docs/" + name, name);
        await h.SyncExpectingSuccessAsync();

        var all = await h.Engine.GetFilesAsync();
        Assert.That(all.Select(f => f.Path), Is.EqualTo(new[] { "a.txt", "b/inner.txt", "c.txt" }), "ordered by path");
        Assert.That(all[0].Owners, Is.EqualTo(new[] { "A", "B" }));
        Assert.That(all[0].UpToDate, Is.EqualTo(new[] { "A", "B" }));
        Assert.That(all[0].Size, Is.EqualTo(5));
        Assert.That(all[0].Fid, Is.EqualTo(FileId.Compute("docs", "a.txt")));

        var page = await h.Engine.GetFilesAsync(offset: 1, limit: 1);
        Assert.That(page.Single().Path, Is.EqualTo("b/inner.txt"));
        Assert.That(await h.Engine.GetFilesAsync(folder: "elsewhere"), Is.Empty);

        var one = await h.Engine.GetFileAsync(FileId.Compute("docs", "c.txt"));
        Assert.That(one?.Path, Is.EqualTo("c.txt"));
        Assert.That(await h.Engine.GetFileAsync(Guid.NewGuid()), Is.Null);
    }

    [Test]
    public async Task Pending_transfers_and_statistics_say_what_waits_and_what_was_done()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        h.Write("A", "docs/one.txt", "12345");
        await h.SyncExpectingSuccessAsync();

        var a = await h.Engine.GetServiceStatisticsAsync("A");
        var b = await h.Engine.GetServiceStatisticsAsync("B");
        Assert.That((a.Files, a.Bytes), Is.EqualTo((1L, 5L)));
        Assert.That((b.Files, b.TransfersDone, b.BytesWritten), Is.EqualTo((1L, 1L, 5L)));
        Assert.That(b.PendingTransfers, Is.Zero);
        Assert.ThrowsAsync<ServiceNotFoundException>(() => h.Engine.GetServiceStatisticsAsync("Z"));

        // B's folder replaced by a file: the next transfer to B cannot be written and stays pending with its error.
        await h.RestartAsync();
        h.Write("A", "docs/two.txt", "abc");
        Directory.Delete(h.PathOf("B", "docs"), recursive: true);
        File.WriteAllText(h.PathOf("B", "docs"), "not a directory");
        await h.SyncAsync();

        var pending = await h.Engine.GetTransfersAsync();
        Assert.That(pending.Select(t => (t.Path, t.Target, t.Kind)), Does.Contain(("two.txt", "B", TransferKind.Upload)));
        Assert.That(pending.All(t => !t.Active), "nothing runs after the pass");
        Assert.That(await h.Engine.GetTransfersAsync(activeOnly: true), Is.Empty);
        var progress = await h.Engine.GetProgressAsync();
        Assert.That(progress.PendingJobs, Is.EqualTo(pending.Count));
    }

    [Test]
    public async Task Bytes_are_counted_per_chunk_while_a_chunked_transfer_runs()
    {
        const int chunk = 256 * 1024;
        const int size = 8 * chunk;
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices(), o =>
        {
            o.ChunkSize = chunk;
            o.UseNativeCopy = false;
            o.BandwidthLimit = 2 * 1024 * 1024; // ~1 s for the file: chunks are seen one by one
        });
        h.Write("A", "docs/big.bin", SyncHarness.RandomBytes(size));
        var measurements = new ConcurrentQueue<(long Bytes, bool SyncedYet, string? Service)>();
        var synced = false;
        h.Engine.EventRaised += (_, e) => { if (e is FileSynced) Volatile.Write(ref synced, true); };

        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == OnituTelemetry.MeterName && instrument.Name == "onitu.transfer.bytes")
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string? setup = null, service = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "onitu.setup") setup = tag.Value as string;
                if (tag.Key == "onitu.service") service = tag.Value as string;
            }
            if (setup == "test")
                measurements.Enqueue((value, Volatile.Read(ref synced), service));
        });
        listener.Start();

        await h.SyncExpectingSuccessAsync();

        var seen = measurements.ToList();
        Assert.That(seen.Sum(m => m.Bytes), Is.EqualTo(size), "every byte counted once");
        Assert.That(seen, Has.Count.EqualTo(size / chunk), "one measurement per chunk");
        Assert.That(seen.Count(m => !m.SyncedYet), Is.EqualTo(seen.Count), "counted as the chunks moved, before the file was synced");
        Assert.That(seen.All(m => m.Service == "B"), "tagged with the target");
        Assert.That((await h.Engine.GetProgressAsync()).BytesTransferred, Is.EqualTo(size));
    }

    [Test]
    public async Task Observable_gauges_report_service_states_and_jobs()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        h.Write("A", "docs/f.txt", "f");
        await h.SyncExpectingSuccessAsync();
        await h.Engine.StartAsync();
        await h.Engine.WaitUntilIdleAsync(new CancellationTokenSource(SyncHarness.Timeout()).Token);

        var values = new ConcurrentDictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == OnituTelemetry.MeterName)
                l.EnableMeasurementEvents(instrument);
        };
        void Record(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var key = instrument.Name;
            var setup = "";
            foreach (var tag in tags)
            {
                if (tag.Key == "onitu.setup") setup = (string)tag.Value!;
                else key += $"|{tag.Value}";
            }
            if (setup == "test")
                values[key] = value;
        }
        listener.SetMeasurementEventCallback<int>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.That(values["onitu.service.state|A|running"], Is.EqualTo(1));
        Assert.That(values["onitu.service.state|A|failing"], Is.Zero);
        Assert.That(values["onitu.jobs.pending"], Is.Zero);
        Assert.That(values["onitu.jobs.active"], Is.Zero);
    }

    [Test]
    public async Task Scans_and_transfers_are_traced()
    {
        var activities = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == OnituTelemetry.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activities.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        h.Write("A", "docs/traced-file.txt", "t");

        await h.SyncExpectingSuccessAsync();

        var mine = activities.Where(a => a.GetTagItem("onitu.path") as string == "traced-file.txt").ToList();
        Assert.That(mine.Select(a => (a.OperationName, a.GetTagItem("onitu.target"))), Does.Contain(("onitu.transfer", (object?)"B")));
        Assert.That(activities.Any(a => a.OperationName == "onitu.scan"), Is.True);
    }

    [Test]
    public async Task The_last_events_are_kept_from_the_engines_creation_oldest_first_up_to_the_option()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices(), o => o.RecentEvents = 3);
        for (var i = 0; i < 5; i++)
            h.Write("A", $"docs/f{i}.txt", "x");

        // Nobody subscribes before the engine starts: the events of its start-up scan are kept all the same.
        await h.Engine.StartAsync();
        await SyncHarness.EventuallyAsync(() => { lock (h.Events) return h.Events.OfType<FileSynced>().Count() == 5; }, "the five files synced");
        await h.Engine.WaitUntilIdleAsync(new CancellationTokenSource(SyncHarness.Timeout()).Token);

        SyncEvent[] all;
        lock (h.Events) all = [.. h.Events];
        Assert.That(h.Engine.GetRecentEvents(), Is.EqualTo(all[^3..]), "the last three, oldest first");
    }

    [Test]
    public void Events_serialize_with_a_type_discriminator_and_string_enums()
    {
        SyncEvent e = new ServiceStateChanged(DateTimeOffset.UnixEpoch, "A", ServiceState.Failing, "disk gone");
        var json = JsonSerializer.Serialize(e, JsonSerializerOptions.Web);
        Assert.That(json, Does.StartWith("""{"type":"serviceStateChanged",""").And.Contain("\"state\":\"Failing\""));
        Assert.That(JsonSerializer.Deserialize<SyncEvent>(json, JsonSerializerOptions.Web), Is.EqualTo(e));
    }

    [Test]
    public void Every_event_type_has_a_discriminator()
    {
        var registered = typeof(SyncEvent).GetCustomAttributes(typeof(System.Text.Json.Serialization.JsonDerivedTypeAttribute), false)
            .Cast<System.Text.Json.Serialization.JsonDerivedTypeAttribute>().Select(a => a.DerivedType).ToHashSet();
        var events = typeof(SyncEvent).Assembly.GetExportedTypes().Where(t => t.IsSubclassOf(typeof(SyncEvent)) && !t.IsAbstract);
        Assert.That(events.Where(t => !registered.Contains(t)), Is.Empty, "add [JsonDerivedType] on SyncEvent for new events");
    }

    [Test]
    public async Task A_service_s_files_are_listed_once_each_in_path_order_across_pages()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        // More than two pages of the listing (1,024 rows each), in two directories, and names that order
        // differently by code point than by UTF-16 unit ("\uE000" after an astral character's surrogates).
        var expected = new List<string>();
        for (var i = 0; i < 2100; i++)
            expected.Add($"{(i % 2 == 0 ? "even" : "odd")}/f{i:D5}.txt");
        expected.AddRange(["even.txt", "even0", "x\uE000.txt", "x\U0001F600.txt"]);
        foreach (var path in expected)
            h.Write("A", "docs/" + path, "x");
        await h.SyncExpectingSuccessAsync();

        var plug = h.Engine.Coordinator.Hosts["A"].Plug;
        var listed = new List<string>();
        await foreach (var metadata in plug.ListFilesAsync("docs"))
            listed.Add(metadata.Path);
        var underOdd = new List<string>();
        await foreach (var metadata in plug.ListFilesAsync("docs", "odd"))
            underOdd.Add(metadata.Path);

        var byUtf8 = Comparer<string>.Create((a, b) => Encoding.UTF8.GetBytes(a).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(b)));
        Assert.That(listed, Is.EqualTo(expected.Order(byUtf8).ToList()));
        Assert.That(underOdd, Is.EqualTo(expected.Where(p => p.StartsWith("odd/", StringComparison.Ordinal)).Order(byUtf8).ToList()));
    }
}
