using NUnit.Framework;

namespace Onitu.Testing;

// Live: changes, moves and directory moves while the engine runs (WatchAsync).
public abstract partial class DriverConformanceTests
{
    /// <summary>While the engine runs, a file renamed on the reference is renamed on the driver under test.</summary>
    [Test]
    public virtual async Task Move_reaches_the_driver()
    {
        RequireChangeNotifications();
        await StartLiveAsync().ConfigureAwait(false);
        var content = Content(2000, 90);
        WriteReference("old-name.txt", content);
        await EventuallyAsync(async () => await ReadFromSubjectAsync("old-name.txt").ConfigureAwait(false) is { } c && c.AsSpan().SequenceEqual(content),
            "old-name.txt on the driver under test").ConfigureAwait(false);

        File.Move(ReferencePath("old-name.txt"), ReferencePath("new-name.txt"));
        await EventuallyAsync(async () => await ReadFromSubjectAsync("old-name.txt").ConfigureAwait(false) is null
                                          && await ReadFromSubjectAsync("new-name.txt").ConfigureAwait(false) is not null,
            "the rename replayed on the driver under test (new-name.txt there, old-name.txt gone)").ConfigureAwait(false);
        await AssertOnSubjectAsync("new-name.txt", content).ConfigureAwait(false);
    }

    /// <summary>While the engine runs, a directory renamed on the reference is renamed on the driver under test.</summary>
    [Test]
    public virtual async Task Directory_move_reaches_the_driver()
    {
        RequireChangeNotifications();
        await StartLiveAsync().ConfigureAwait(false);
        var files = Enumerable.Range(0, 4).Select(i => ($"album/2024/p{i}.jpg", Content(300 + i, 100 + i))).ToArray();
        foreach (var (path, content) in files)
            WriteReference(path, content);
        await EventuallyAsync(async () =>
        {
            foreach (var (path, _) in files)
            {
                if (await ReadFromSubjectAsync(path).ConfigureAwait(false) is null)
                    return false;
            }
            return true;
        }, "the album on the driver under test").ConfigureAwait(false);

        Directory.Move(ReferencePath("album"), ReferencePath("pictures"));
        await EventuallyAsync(async () =>
        {
            foreach (var (path, _) in files)
            {
                if (await ReadFromSubjectAsync(path).ConfigureAwait(false) is not null
                    || await ReadFromSubjectAsync("pictures" + path["album".Length..]).ConfigureAwait(false) is null)
                    return false;
            }
            return true;
        }, "album/ renamed to pictures/ on the driver under test").ConfigureAwait(false);
        foreach (var (path, content) in files)
            await AssertOnSubjectAsync("pictures" + path["album".Length..], content).ConfigureAwait(false);
    }

    /// <summary>While the engine runs, a file written on the driver under test by another client reaches the reference (WatchAsync).</summary>
    [Test]
    public virtual async Task A_change_on_the_driver_is_seen_while_running()
    {
        RequireChangeNotifications();
        await StartLiveAsync().ConfigureAwait(false);
        var content = Content(777, 110);
        await PutOnSubjectAsync("live/written.txt", content).ConfigureAwait(false);
        await EventuallyAsync(() => Task.FromResult(ReadReference("live/written.txt") is { } c && c.AsSpan().SequenceEqual(content)),
            "live/written.txt on the reference", state: () => Task.FromResult(Describe(content, ReadReference("live/written.txt")) ?? "")).ConfigureAwait(false);

        await DeleteOnSubjectAsync("live/written.txt").ConfigureAwait(false);
        await EventuallyAsync(() => Task.FromResult(ReadReference("live/written.txt") is null),
            "live/written.txt deleted on the reference after its deletion on the driver under test").ConfigureAwait(false);
    }

    /// <summary>While the engine runs, a file moved on the driver under test (its own <see cref="INativeMove"/>) is moved on the reference.</summary>
    [Test]
    public virtual async Task Move_on_the_driver_reaches_the_reference()
    {
        RequireChangeNotifications();
        var mover = Require<INativeMove>(Probe);
        var content = Content(1500, 120);
        await PutOnSubjectAsync("before.txt", content).ConfigureAwait(false);
        await StartLiveAsync().ConfigureAwait(false);
        AssertOnReference("before.txt", content);

        var source = ProbePlug.Known(FolderName, "before.txt");
        var destination = new Metadata(FolderName, "moved/after.txt");
        await mover.MoveFileAsync(source, destination, Cancellation).ConfigureAwait(false);
        await EventuallyAsync(() => Task.FromResult(ReadReference("before.txt") is null && ReadReference("moved/after.txt") is not null),
            "the move replayed on the reference (moved/after.txt there, before.txt gone)").ConfigureAwait(false);
        AssertOnReference("moved/after.txt", content);
    }
}
