using System.Text.Json.Serialization;

namespace Onitu;

/// <summary>Something the engine did or noticed, for an application to show or react to.</summary>
/// <param name="Time">When it happened.</param>
/// <remarks>
/// Serialized with System.Text.Json as the base type, an event carries its kind in a <c>type</c> property
/// (<c>fileSynced</c>, <c>fileDeleted</c>, ...) and its enums as strings.
/// </remarks>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type", UnknownDerivedTypeHandling = JsonUnknownDerivedTypeHandling.FallBackToNearestAncestor)]
[JsonDerivedType(typeof(FileSynced), "fileSynced")]
[JsonDerivedType(typeof(FileDeleted), "fileDeleted")]
[JsonDerivedType(typeof(FileMoved), "fileMoved")]
[JsonDerivedType(typeof(ConflictDetected), "conflictDetected")]
[JsonDerivedType(typeof(TransferFailed), "transferFailed")]
[JsonDerivedType(typeof(FileSkipped), "fileSkipped")]
[JsonDerivedType(typeof(ServiceStateChanged), "serviceStateChanged")]
[JsonDerivedType(typeof(EngineFaulted), "engineFaulted")]
public abstract record SyncEvent(DateTimeOffset Time);

/// <summary>A file's current version was written to a service.</summary>
public sealed record FileSynced(DateTimeOffset Time, string Service, string Folder, string Path, long Size, string Source, bool Resumed)
    : SyncEvent(Time);

/// <summary>A file was deleted from a service because it was deleted elsewhere.</summary>
public sealed record FileDeleted(DateTimeOffset Time, string Service, string Folder, string Path) : SyncEvent(Time);

/// <summary>A file was moved on a service because it was moved elsewhere.</summary>
public sealed record FileMoved(DateTimeOffset Time, string Service, string Folder, string FromPath, string ToFolder, string ToPath)
    : SyncEvent(Time);

/// <summary>
/// Two services changed the same file concurrently: the later write keeps <paramref name="Path"/>, the other
/// content is kept as <paramref name="ConflictPath"/> on every service.
/// </summary>
public sealed record ConflictDetected(DateTimeOffset Time, string Folder, string Path, string ConflictPath, string LosingService)
    : SyncEvent(Time);

/// <summary>A transfer, deletion or move failed; it is retried later when <paramref name="WillRetry"/>.</summary>
public sealed record TransferFailed(DateTimeOffset Time, string Service, string Folder, string Path, string Error, bool WillRetry)
    : SyncEvent(Time);

/// <summary>
/// A driver skipped a path of its store (a symbolic link, an unreadable directory, a name it cannot hold): it is not
/// synced until the cause goes away.
/// </summary>
public sealed record FileSkipped(DateTimeOffset Time, string Service, string Folder, string Path, string Reason) : SyncEvent(Time);

/// <summary>
/// A part of the engine itself failed (<paramref name="Component"/>: the transfer scheduler, a job's task) and restarts
/// with backoff; its work stays persisted and is picked up again.
/// </summary>
public sealed record EngineFaulted(DateTimeOffset Time, string Component, string Reason) : SyncEvent(Time);

/// <summary>A service changed state (started, failing, stopped).</summary>
public sealed record ServiceStateChanged(DateTimeOffset Time, string Service, ServiceState State, string? Reason) : SyncEvent(Time);

/// <summary>The life cycle of a service.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ServiceState>))]
public enum ServiceState
{
    /// <summary>Not started.</summary>
    Stopped,
    /// <summary>Started; its startup scan is running.</summary>
    Scanning,
    /// <summary>Scanned and watching (or, in a one-shot sync, scanned).</summary>
    Running,
    /// <summary>Its driver or store failed; retried with backoff. The other services go on.</summary>
    Failing,
}

/// <summary>A service's state as the engine reports it.</summary>
/// <param name="Name">The service name.</param>
/// <param name="Driver">The driver id.</param>
/// <param name="State">The state.</param>
/// <param name="Reason">Why it is failing, when it is.</param>
/// <param name="Since">When it entered the state.</param>
public sealed record ServiceStatus(string Name, string Driver, ServiceState State, string? Reason, DateTimeOffset Since);

/// <summary>How much work is pending.</summary>
/// <param name="PendingJobs">Transfers, deletions and moves persisted and not done yet.</param>
/// <param name="ActiveTransfers">Jobs running now.</param>
/// <param name="BytesTransferred">Bytes written to targets since the engine started.</param>
/// <param name="FilesSynced">Jobs completed since the engine started.</param>
public sealed record SyncProgress(long PendingJobs, int ActiveTransfers, long BytesTransferred, long FilesSynced)
{
    /// <summary>
    /// Why the engine's transfer scheduler last failed, while it has not recovered (it restarts itself with backoff);
    /// <see langword="null"/> when it runs normally.
    /// </summary>
    public string? SchedulerFault { get; init; }
}

/// <summary>The outcome of a one-shot <see cref="SyncEngine.SyncOnceAsync"/>.</summary>
/// <param name="FilesSynced">Jobs completed in this pass.</param>
/// <param name="PendingJobs">Jobs left undone (failed or blocked).</param>
/// <param name="Errors">What failed: services that could not be scanned, jobs that kept failing.</param>
public sealed record SyncReport(long FilesSynced, long PendingJobs, IReadOnlyList<string> Errors)
{
    /// <summary>
    /// The paths the drivers skipped during the pass (symbolic links, unreadable directories, names a store cannot
    /// hold), with their reasons. They do not make the pass fail, but they are not synced.
    /// </summary>
    public IReadOnlyList<FileSkipped> Skipped { get; init; } = [];

    /// <summary>Whether every service was scanned and every job done.</summary>
    public bool Succeeded => PendingJobs == 0 && Errors.Count == 0;
}

/// <summary>What a dry run found a pass would do (<see cref="SyncEngine.DryRunAsync"/>).</summary>
/// <param name="Actions">Each copy, deletion and move, per target service.</param>
/// <param name="Conflicts">The conflicts the pass would resolve by keeping a conflict copy.</param>
/// <param name="Refusals">What a safety guard would refuse (a missing folder marker, a mass deletion), per service.</param>
/// <param name="Skipped">The paths the drivers would skip.</param>
public sealed record SyncPlan(
    IReadOnlyList<PlannedAction> Actions, IReadOnlyList<ConflictDetected> Conflicts, IReadOnlyList<string> Refusals,
    IReadOnlyList<FileSkipped> Skipped)
{
    /// <summary>Whether the pass would run without a guard refusing anything.</summary>
    public bool WouldSucceed => Refusals.Count == 0;
}

/// <summary>What a planned action does.</summary>
public enum PlannedActionKind
{
    /// <summary>Write the file's current content to the service.</summary>
    Copy,
    /// <summary>Delete the file from the service.</summary>
    Delete,
    /// <summary>Move the service's copy from <see cref="PlannedAction.FromPath"/> to the path.</summary>
    Move,
}

/// <summary>One thing a pass would do to one service.</summary>
/// <param name="Kind">Copy, delete or move.</param>
/// <param name="Service">The service it changes.</param>
/// <param name="Folder">The folder.</param>
/// <param name="Path">The file's path in the folder.</param>
/// <param name="FromPath">For a move, the path it moves from.</param>
/// <param name="KeepsOwnAs">For a copy that resolves a conflict, where the service's own content is kept first.</param>
public sealed record PlannedAction(PlannedActionKind Kind, string Service, string Folder, string Path, string? FromPath, string? KeepsOwnAs);
