using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Onitu.Diagnostics;

namespace Onitu.Sync;

/// <summary>
/// The paths drivers reported as skipped, each logged and published once per reason until it clears (the driver
/// reports the path as a file again) — a poll that meets the same unreadable directory every minute must not flood
/// the log. A one-shot pass reads what was skipped into its report.
/// </summary>
internal sealed class SkippedPaths(EventHub events, ILogger logger, TimeProvider clock)
{
    private readonly ConcurrentDictionary<(string Service, string Folder, string Path), FileSkipped> _skipped = new();

    public bool IsEmpty => _skipped.IsEmpty;

    public void Report(string service, string folder, string path, string reason)
    {
        var key = (service, folder, path);
        if (_skipped.TryGetValue(key, out var known) && known.Reason == reason)
            return;
        var skipped = new FileSkipped(clock.GetUtcNow(), service, folder, path, reason);
        _skipped[key] = skipped;
        Log.PathSkipped(logger, service, folder, path, reason);
        events.Publish(skipped);
    }

    public void Clear(string service, string folder, string path)
    {
        if (!_skipped.IsEmpty)
            _skipped.TryRemove((service, folder, path), out _);
    }

    /// <summary>Forgets everything: a new pass reports afresh what it meets.</summary>
    public void Reset() => _skipped.Clear();

    public IReadOnlyList<FileSkipped> Snapshot() =>
        [.. _skipped.Values.OrderBy(s => s.Service, StringComparer.Ordinal).ThenBy(s => s.Folder, StringComparer.Ordinal)
            .ThenBy(s => s.Path, StringComparer.Ordinal)];
}
