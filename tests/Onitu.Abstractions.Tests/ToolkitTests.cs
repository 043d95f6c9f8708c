using Onitu.Drivers.Toolkit;

namespace Onitu.Abstractions.Tests;

public class OwnChangesTests
{
    private readonly ManualTime _time = new();

    [Test]
    public void A_write_matches_its_revision_until_it_expires()
    {
        var own = new OwnChanges(timeProvider: _time);
        own.RecordWrite("/f", "5-1");

        Assert.Multiple(() =>
        {
            Assert.That(own.IsOwn("/f", "5-1"), Is.True);
            Assert.That(own.IsOwn("/f", "5-1"), Is.True, "kept after a match");
            Assert.That(own.IsOwn("/other", "5-1"), Is.False);
        });
        _time.Advance(TimeSpan.FromMinutes(2));
        Assert.That(own.IsOwn("/f", "5-1"), Is.False);
    }

    [Test]
    public void A_mismatch_forgets_the_entry_unless_it_is_very_young()
    {
        var own = new OwnChanges(timeProvider: _time);
        own.RecordDelete("/f");

        Assert.That(own.IsOwn("/f", "1-0"), Is.False);
        Assert.That(own.IsOwn("/f", null), Is.True, "a young entry survives a look taken before the deletion landed");

        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.That(own.IsOwn("/f", "1-0"), Is.False, "recreated by the user");
        Assert.That(own.IsOwn("/f", null), Is.False, "so the user's next deletion is reported");
    }

    [Test]
    public void A_forgotten_change_is_reported()
    {
        var own = new OwnChanges(timeProvider: _time);
        own.RecordWrite("/f", "5-1");

        own.Forget("/f");

        Assert.That(own.IsOwn("/f", "5-1"), Is.False);
    }

    [Test]
    public void Expired_entries_are_swept_when_nobody_consumes_them()
    {
        var own = new OwnChanges(timeProvider: _time);
        for (var i = 0; i < 2000; i++)
            own.RecordWrite($"/old/{i}", "1-1");
        _time.Advance(TimeSpan.FromMinutes(2));

        own.RecordWrite("/new", "1-1");

        Assert.That(own.Count, Is.EqualTo(1));
    }

    [Test]
    public void A_poller_keeps_entries_for_the_lifetime_it_asks()
    {
        var own = new OwnChanges(TimeSpan.FromMinutes(10), timeProvider: _time);
        own.RecordWrite("/f", "5-1");

        _time.Advance(TimeSpan.FromMinutes(9));
        Assert.That(own.IsOwn("/f", "5-1"), Is.True);
        _time.Advance(TimeSpan.FromMinutes(2));
        Assert.That(own.IsOwn("/f", "5-1"), Is.False);
    }

    [Test]
    public void Paths_compare_as_the_store_does()
    {
        var own = new OwnChanges(comparer: StringComparer.OrdinalIgnoreCase, timeProvider: _time);
        own.RecordWrite("/Docs/A.txt", "5-1");

        Assert.That(own.IsOwn("/docs/a.txt", "5-1"), Is.True);
        Assert.That(new OwnChanges().IsOwn("/docs/a.txt", "5-1"), Is.False);
    }

    private sealed class ManualTime : TimeProvider
    {
        private long _ticks = 1_000_000;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}

public class PathLocksTests
{
    [Test]
    public async Task One_path_is_held_by_one_caller_at_a_time_and_other_paths_are_free()
    {
        var locks = new PathLocks();
        var first = await locks.AcquireAsync("/a", CancellationToken.None);

        var second = locks.AcquireAsync("/a", CancellationToken.None).AsTask();
        var other = await locks.AcquireAsync("/b", "/c", CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(second.IsCompleted, Is.False);

        first.Dispose();
        (await second.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
        other.Dispose();
    }

    [Test]
    public async Task Two_movers_in_opposite_directions_do_not_deadlock()
    {
        var locks = new PathLocks();

        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(async () =>
        {
            using var held = i % 2 == 0
                ? await locks.AcquireAsync("/x", "/y", CancellationToken.None)
                : await locks.AcquireAsync("/y", "/x", CancellationToken.None);
            await Task.Yield();
        }))).WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Test]
    public async Task A_move_within_one_path_takes_one_lock()
    {
        var locks = new PathLocks();

        using var held = await locks.AcquireAsync("/x", "/x", CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.That(locks.Count, Is.EqualTo(1));
    }

    [Test]
    public void A_cancelled_wait_does_not_take_the_lock()
    {
        var locks = new PathLocks();
        using var held = locks.AcquireAsync("/a", CancellationToken.None).AsTask().Result;
        using var cancel = new CancellationTokenSource();
        var waiting = locks.AcquireAsync("/a", cancel.Token).AsTask();

        cancel.Cancel();

        Assert.That(async () => await waiting, Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public async Task Locks_nobody_holds_or_waits_for_are_dropped()
    {
        var locks = new PathLocks();
        var waits = new List<Task>();
        for (var i = 0; i < 1000; i++)
        {
            var path = $"/dir/{i % 100}";
            waits.Add(Task.Run(async () =>
            {
                using var held = await locks.AcquireAsync(path, $"/other/{path}", CancellationToken.None);
                await Task.Yield();
            }));
        }
        using (var cancel = new CancellationTokenSource())
        {
            using var held = await locks.AcquireAsync("/busy", CancellationToken.None);
            var cancelled = locks.AcquireAsync("/busy", cancel.Token).AsTask();
            cancel.Cancel();
            Assert.That(async () => await cancelled, Throws.InstanceOf<OperationCanceledException>());
        }
        await Task.WhenAll(waits).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.That(locks.Count, Is.Zero, "every released path's lock is gone: a driver touching millions of files keeps none");
    }

    [Test]
    public async Task Paths_compare_as_the_store_does()
    {
        var locks = new PathLocks(StringComparer.OrdinalIgnoreCase);
        using var held = await locks.AcquireAsync("/Docs/A.txt", CancellationToken.None);

        var same = locks.AcquireAsync("/docs/a.txt", CancellationToken.None).AsTask();

        Assert.That(same.IsCompleted, Is.False);
        held.Dispose();
        (await same.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
    }
}

public class TempNamesTests
{
    private static readonly Guid Fid = Guid.Parse("0123456789abcdef0123456789abcdef");

    [TestCase(".onitu-0123456789abcdef0123456789abcdef.part", true)]
    [TestCase(".onitu-0123456789abcdef0123456789abcdef.0a1b2c3d.part", true)]
    [TestCase(".onitu-0123456789abcdef0123456789abcdef.0a1b2c3d.99999999-12345678.tmp", true)]
    [TestCase(".onitu-0123456789ABCDEF0123456789abcdef.part", false)]
    [TestCase(".onitu-0123456789abcdef0123456789abcdef", false)]
    [TestCase(".onitu-notes.txt", false)]
    [TestCase(".onitu-folder", false)]
    [TestCase("onitu-0123456789abcdef0123456789abcdef.part", false)]
    [TestCase("report.part", false)]
    public void Only_the_drivers_own_names_are_temporary(string name, bool expected) =>
        Assert.That(TempNames.IsTemporary(name), Is.EqualTo(expected));

    [Test]
    public void A_chunked_upload_finds_its_partial_file_again_and_two_writers_never_share_one()
    {
        var name = TempNames.Chunked(Fid, "0a1b2c3d");
        var again = TempNames.Chunked(Fid, "0a1b2c3d");

        Assert.Multiple(() =>
        {
            Assert.That(name, Is.EqualTo(".onitu-0123456789abcdef0123456789abcdef.0a1b2c3d.part"));
            Assert.That(again, Is.EqualTo(name));
            Assert.That(TempNames.Chunked(Fid, "0a1b2c3d"), Is.Not.EqualTo(TempNames.Chunked(Fid, "99999999")));
            Assert.That(TempNames.IsTemporary(TempNames.Chunked(Fid, TempNames.NewId())), Is.True);
        });
    }

    [Test]
    public void Whole_file_uploads_get_a_new_name_each_time()
    {
        var first = TempNames.Whole(Fid, "0a1b2c3d", "99999999");
        var second = TempNames.Whole(Fid, "0a1b2c3d", "99999999");

        Assert.Multiple(() =>
        {
            Assert.That(first, Is.Not.EqualTo(second));
            Assert.That(first, Does.StartWith(".onitu-0123456789abcdef0123456789abcdef.0a1b2c3d.99999999-").And.EndWith(".tmp"));
            Assert.That(TempNames.IsTemporary(first), Is.True);
        });
    }

    [Test]
    public void A_whole_file_upload_of_an_earlier_instance_of_the_same_writer_is_stale()
    {
        var earlier = TempNames.Whole(Fid, "0a1b2c3d", "11111111");

        Assert.Multiple(() =>
        {
            Assert.That(TempNames.IsStaleWhole(earlier, "0a1b2c3d", "22222222"), Is.True);
            Assert.That(TempNames.IsStaleWhole(earlier, "0a1b2c3d", "11111111"), Is.False, "this instance's own upload in progress");
            Assert.That(TempNames.IsStaleWhole(earlier, "99999999", "22222222"), Is.False, "another writer's");
            Assert.That(TempNames.IsStaleWhole(TempNames.Chunked(Fid, "0a1b2c3d"), "0a1b2c3d", "22222222"), Is.False, "a chunked upload may resume");
        });
    }

    [Test]
    public void Ids_are_eight_lower_case_hexadecimal_digits()
    {
        var id = TempNames.NewId();

        Assert.That(id, Does.Match("^[0-9a-f]{8}$"));
    }
}
