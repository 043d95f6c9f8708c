using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace Onitu.Drivers.LocalStorage.Tests;

/// <summary>What a driver reported through the plug.</summary>
public enum CallKind
{
    Update,
    Delete,
    Move,
    Skip,
}

/// <summary>One report, with snapshots of the metadata as they were when reported.</summary>
public sealed record PlugCall(CallKind Kind, Metadata File, Metadata? Destination = null)
{
    public override string ToString() => Kind == CallKind.Move
        ? $"Move {File} ({File.Revision}) -> {Destination} ({Destination!.Revision})"
        : $"{Kind} {File} ({File.Revision})";
}

/// <summary>
/// A plug that behaves like the engine as far as a driver can tell: it remembers the files the service holds per
/// (folder, path) with their revisions, updated by every report, and records every report in order so tests can
/// await "a report matching X" instead of sleeping.
/// </summary>
public sealed class RecordingPlug : IPlug
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Folder, string Path), Metadata> _known = [];
    private readonly List<PlugCall> _calls = [];
    private readonly List<(Func<IReadOnlyList<PlugCall>, bool> Condition, TaskCompletionSource Done)> _waiters = [];
    private int _getMetadataCalls;
    private int _listFilesCalls;

    public RecordingPlug(string baseDirectory, IReadOnlyList<FolderMapping> folders, IReadOnlyDictionary<string, object?>? options = null)
    {
        BaseDirectory = baseDirectory;
        Folders = folders;
        var values = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["root"] = ".",
            ["fsync"] = false,
            ["debounce-ms"] = 20L,
        };
        foreach (var (key, value) in options ?? new Dictionary<string, object?>())
            values[key] = value;
        Options = new DriverOptions(values);
    }

    /// <summary>How long a test waits for a report before failing; scaled by ONITU_TEST_TIME_UNIT.</summary>
    public static TimeSpan Timeout { get; } = TimeSpan.FromSeconds(10 * Onitu.Testing.DriverConformanceTests.TimeUnit);

    public string ServiceName => "disk";
    public IReadOnlyList<FolderMapping> Folders { get; }
    public DriverOptions Options { get; }
    public string BaseDirectory { get; }
    public TestLogger TestLogger { get; } = new();
    public ILogger Logger => TestLogger;
    public IDriverStateStore State { get; } = new Onitu.Testing.MemoryDriverStateStore();
    public bool DryRun { get; set; }
    public bool SinglePass { get; set; }

    public int GetMetadataCalls => Volatile.Read(ref _getMetadataCalls);
    public int ListFilesCalls => Volatile.Read(ref _listFilesCalls);

    /// <summary>How many reports so far: a mark to await or inspect only what comes after.</summary>
    public int CallCount
    {
        get
        {
            lock (_lock)
                return _calls.Count;
        }
    }

    /// <summary>A snapshot of the reports, in order, optionally from a mark on.</summary>
    public IReadOnlyList<PlugCall> Calls(int from = 0)
    {
        lock (_lock)
            return _calls.Skip(from).ToList();
    }

    /// <summary>The revision the "engine" believes this service holds, or null.</summary>
    public string? KnownRevision(string folder, string path)
    {
        lock (_lock)
            return _known.TryGetValue((folder, path), out var m) ? m.Revision : null;
    }

    /// <summary>A copy of what is known of a file, as the engine would hand it to a handler.</summary>
    public Metadata Known(string folder, string path)
    {
        lock (_lock)
            return _known.TryGetValue((folder, path), out var m) ? Copy(m) : new Metadata(folder, path);
    }

    /// <summary>Persists a handler's result, as the engine does when a handler returns (not a report).</summary>
    public void Remember(Metadata metadata)
    {
        lock (_lock)
            _known[(metadata.Folder, metadata.Path)] = Copy(metadata);
    }

    /// <summary>Waits until a report after <paramref name="from"/> matches; fails the test on timeout.</summary>
    public async Task<PlugCall> WaitForAsync(Func<PlugCall, bool> match, int from = 0, [CallerArgumentExpression(nameof(match))] string? what = null)
    {
        await WaitUntilAsync(calls => calls.Skip(from).Any(match), what);
        lock (_lock)
            return _calls.Skip(from).First(match);
    }

    /// <summary>Waits until the reports satisfy <paramref name="condition"/>; fails the test on timeout.</summary>
    public async Task WaitUntilAsync(Func<IReadOnlyList<PlugCall>, bool> condition, [CallerArgumentExpression(nameof(condition))] string? what = null)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            if (condition(_calls))
                return;
            _waiters.Add((condition, done));
        }
        try
        {
            await done.Task.WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            lock (_lock)
                _waiters.RemoveAll(w => w.Done == done);
            Assert.Fail($"Timed out after {Timeout.TotalSeconds} s waiting for: {what}\nReports so far:\n  {string.Join("\n  ", Calls())}\nLog:\n  {string.Join("\n  ", TestLogger.Entries)}");
        }
    }

    public ValueTask UpdateFileAsync(Metadata metadata, CancellationToken cancellationToken = default)
    {
        Assert.That(metadata.Revision, Is.Not.Null, $"UpdateFile of {metadata} without a revision");
        Record(new PlugCall(CallKind.Update, Copy(metadata)), () => _known[(metadata.Folder, metadata.Path)] = Copy(metadata));
        return ValueTask.CompletedTask;
    }

    public ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken = default)
    {
        Record(new PlugCall(CallKind.Delete, Copy(metadata)), () => _known.Remove((metadata.Folder, metadata.Path)));
        return ValueTask.CompletedTask;
    }

    public ValueTask MoveFileAsync(Metadata source, Metadata destination, CancellationToken cancellationToken = default)
    {
        Record(new PlugCall(CallKind.Move, Copy(source), Copy(destination)), () =>
        {
            _known.Remove((source.Folder, source.Path));
            _known[(destination.Folder, destination.Path)] = Copy(destination);
        });
        return ValueTask.CompletedTask;
    }

    public ValueTask ReportSkippedAsync(string folder, string path, string reason, CancellationToken cancellationToken = default)
    {
        var skipped = new Metadata(folder, path);
        skipped.Extra["skip-reason"] = reason;
        skipped.Extra["skip-path"] = path; // as reported: Metadata normalizes a backslash into a separator
        Record(new PlugCall(CallKind.Skip, skipped), () => { });
        return ValueTask.CompletedTask;
    }

    public ValueTask<Metadata> GetMetadataAsync(string folder, string path, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _getMetadataCalls);
        return ValueTask.FromResult(Known(folder, path));
    }

    public async IAsyncEnumerable<Metadata> ListFilesAsync(string folder, string? directory = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _listFilesCalls);
        List<Metadata> files;
        lock (_lock)
        {
            files = _known.Values
                .Where(m => m.Folder == folder && (directory is null || FilePath.IsUnder(m.Path, directory)))
                .OrderBy(m => m.Path, StringComparer.Ordinal) // as the engine lists them (IPlug.ListFilesAsync)
                .Select(Copy)
                .ToList();
        }
        foreach (var file in files)
        {
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            yield return file;
        }
    }

    public static Metadata Copy(Metadata metadata)
    {
        var copy = new Metadata(metadata.Folder, metadata.Path)
        {
            Revision = metadata.Revision,
            Size = metadata.Size,
            ModifiedAt = metadata.ModifiedAt,
        };
        foreach (var (key, value) in metadata.Extra)
            copy.Extra[key] = value;
        return copy;
    }

    private void Record(PlugCall call, Action apply)
    {
        List<TaskCompletionSource> satisfied = [];
        lock (_lock)
        {
            apply();
            _calls.Add(call);
            _waiters.RemoveAll(w =>
            {
                if (!w.Condition(_calls))
                    return false;
                satisfied.Add(w.Done);
                return true;
            });
        }
        satisfied.ForEach(d => d.TrySetResult());
    }
}
