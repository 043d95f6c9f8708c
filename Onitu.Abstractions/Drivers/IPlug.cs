using Microsoft.Extensions.Logging;

namespace Onitu;

/// <summary>
/// What the engine hands a driver: its configuration and the calls through which it reports changes on its store.
/// The plug is thread-safe. Every reporting call returns once the change is persisted, so a driver that saw it
/// return may forget the change.
/// </summary>
public interface IPlug
{
    /// <summary>The name of the service (the configured instance of the driver) in the setup.</summary>
    string ServiceName { get; }

    /// <summary>The folders mapped on this service, with the store path each is mapped to.</summary>
    IReadOnlyList<FolderMapping> Folders { get; }

    /// <summary>The service's options, validated against the driver's manifest, defaults filled in.</summary>
    DriverOptions Options { get; }

    /// <summary>
    /// The directory relative paths in options and folder mappings are resolved against (the setup file's
    /// directory, for a setup read from a file).
    /// </summary>
    string BaseDirectory { get; }

    /// <summary>A logger named after the driver and scoped to the service.</summary>
    ILogger Logger { get; }

    /// <summary>A small persistent key-value store for the driver's own state (cursors, tokens, upload ids).</summary>
    IDriverStateStore State { get; }

    /// <summary>
    /// Whether the engine only looks (a dry run: <c>onitu sync --dry-run</c>): the driver scans and reports as usual
    /// but must not change its store in any way — no directory created, no leftover temporary file removed. The
    /// engine itself calls no writing handler then.
    /// </summary>
    bool DryRun => false;

    /// <summary>
    /// Whether the engine runs one pass (<c>onitu sync</c>): after its scan the driver reports no further change and
    /// <see cref="IDriver.WatchAsync"/> is not called during the pass, so a driver need not start watching while it
    /// scans. A later <see cref="IDriver.WatchAsync"/> (the same driver in a long run) catches up as after any pause.
    /// </summary>
    bool SinglePass => false;

    /// <summary>
    /// Reports a new revision of a file on this store (the seed's <c>plug.update_file</c>): set
    /// <see cref="Metadata.Revision"/>, <see cref="Metadata.Size"/> and, if known, <see cref="Metadata.ModifiedAt"/>.
    /// Reporting the revision the engine already knows is harmless and ignored.
    /// </summary>
    ValueTask UpdateFileAsync(Metadata metadata, CancellationToken cancellationToken = default);

    /// <summary>Reports that a file was deleted from this store.</summary>
    ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reports that a file was moved or renamed on this store, possibly into another folder;
    /// <paramref name="destination"/> carries the new revision. A driver that cannot tell moves from a deletion
    /// plus a creation may report those instead.
    /// </summary>
    ValueTask MoveFileAsync(Metadata source, Metadata destination, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reports a path on this store that the driver does not sync: a symbolic link, a directory or file it cannot
    /// list or read, a name the store cannot hold. The engine names it in its report, events and log (once per
    /// path and reason) instead of skipping it silently. A later <see cref="UpdateFileAsync"/> of the same path
    /// clears it.
    /// </summary>
    /// <param name="folder">The folder the path is in.</param>
    /// <param name="path">The path relative to the folder (a directory's path for a whole skipped subtree).</param>
    /// <param name="reason">Why it is skipped, for a person to read.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask ReportSkippedAsync(string folder, string path, string reason, CancellationToken cancellationToken = default);

    /// <summary>
    /// Returns what the engine knows of the file on this service (the seed's <c>plug.get_metadata</c>): its last
    /// revision and extra data, or a fresh <see cref="Metadata"/> with a <see langword="null"/> revision.
    /// </summary>
    ValueTask<Metadata> GetMetadataAsync(string folder, string path, CancellationToken cancellationToken = default);

    /// <summary>
    /// Lists the files the engine believes this service holds in <paramref name="folder"/>, optionally only under
    /// a directory — for a startup scan to spot files deleted while Onitu was stopped. Streams; never loads all.
    /// A file the engine must check by content (its revision was recorded within the store's timestamp resolution
    /// of its last write, see <see cref="ITimestampResolution"/>) is listed with a <see langword="null"/>
    /// <see cref="Metadata.Revision"/>, so that a scan comparing revisions reports it again.
    /// The engine lists them in path order (by code point, <c>/</c> included: the order of UTF-8 bytes), so that a
    /// scan walking its store in the same order can merge the two instead of loading the listing; a driver should
    /// still be correct (if slower) given another order.
    /// </summary>
    IAsyncEnumerable<Metadata> ListFilesAsync(string folder, string? directory = null, CancellationToken cancellationToken = default);
}

/// <summary>A folder of the setup as one service maps it.</summary>
/// <param name="Name">The folder's name in the setup.</param>
/// <param name="Path">Where the folder lives on this service's store, as the setup wrote it (a driver resolves it).</param>
public sealed record FolderMapping(string Name, string Path);

/// <summary>A driver's persistent per-service key-value state.</summary>
public interface IDriverStateStore
{
    /// <summary>Returns the value stored under <paramref name="key"/>, or <see langword="null"/>.</summary>
    ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Stores <paramref name="value"/> under <paramref name="key"/>; <see langword="null"/> removes it.</summary>
    ValueTask SetAsync(string key, string? value, CancellationToken cancellationToken = default);
}
