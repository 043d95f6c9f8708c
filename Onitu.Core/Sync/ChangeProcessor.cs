using Onitu.Rules;
using Onitu.State;
using Onitu.Transfers;

namespace Onitu.Sync;

/// <summary>What a change did, to act on once its transaction committed.</summary>
internal sealed class ChangeOutcome
{
    public static readonly ChangeOutcome None = new();

    public List<SyncEvent> Events { get; } = [];

    /// <summary>
    /// Files planned to be renamed aside (<see cref="ChangeProcessor"/>'s RenameAside): a conflict once the first holder
    /// made the rename (published then, by CompleteMove), not before, since every holder may drop its part first. A dry
    /// run, which makes none, announces them as they are planned.
    /// </summary>
    public List<ConflictDetected> PlannedRenamesAside { get; } = [];

    /// <summary>
    /// Conflicts where neither content could be kept aside (<see cref="ChangeProcessor"/>'s ApplyConflict): each stays
    /// on the services holding it, under the file's name; no conflict copy is announced, since none will be made.
    /// </summary>
    public List<(string Folder, string Path, string Winner, string Loser)> ConflictsKeptInPlace { get; } = [];

    /// <summary>Jobs rewritten or removed: a transfer of theirs in flight, or read ahead, is stale.</summary>
    public List<(Guid Fid, string Target)> TouchedJobs { get; } = [];

    /// <summary>Jobs created for a file never seen before: new work, and nothing of theirs can be stale.</summary>
    public bool CreatedJobs { get; set; }

    public bool HasWork => TouchedJobs.Count > 0 || CreatedJobs;

    /// <summary>
    /// Set when an update could not be decided without comparing contents (<see cref="ContentIdentity"/>): nothing
    /// of that update was written; the caller compares, then applies it again with the result.
    /// </summary>
    public FileRecord? ContentCheckNeeded { get; private set; }

    public static ChangeOutcome NeedsContentCheck(FileRecord file) => new() { ContentCheckNeeded = file };

    public ChangeOutcome Merge(ChangeOutcome other)
    {
        Events.AddRange(other.Events);
        PlannedRenamesAside.AddRange(other.PlannedRenamesAside);
        ConflictsKeptInPlace.AddRange(other.ConflictsKeptInPlace);
        TouchedJobs.AddRange(other.TouchedJobs);
        CreatedJobs |= other.CreatedJobs;
        ContentCheckNeeded ??= other.ContentCheckNeeded;
        return this;
    }
}

/// <summary>
/// Turns what drivers report (updates, deletions, moves) and what transfers achieve into the persisted state and
/// the jobs that follow from it, asking the Referee where each file goes. Every method runs inside one write
/// transaction of the <see cref="MetadataStore"/>, so a change and the jobs it implies are persisted together.
/// </summary>
/// <remarks>
/// Versions: every file has a version bumped by each new content, deletion or move; each replica records the
/// version whose content the service holds. A service that reports a change to a file whose current version it
/// never received made a concurrent edit: a conflict, resolved without losing either content (see
/// <see cref="ApplyConflict"/>).
/// </remarks>
internal sealed class ChangeProcessor(Referee referee, TimeProvider clock)
{
    /// <summary>
    /// Applies a service's report of a file's content. <paramref name="check"/> is the result of comparing that
    /// content with the current version, when an earlier call asked for it (<see cref="ChangeOutcome.ContentCheckNeeded"/>).
    /// </summary>
    public ChangeOutcome ApplyUpdate(StoreTransaction tx, string service, Onitu.Metadata metadata, ContentCheck? check = null)
    {
        // The common case of a first scan, kept lean: the file's row is inserted unless it exists, which answers
        // whether it is new without looking it up first (one statement fewer per file).
        var created = NewVersion(metadata, 1, service);
        if (tx.InsertFileIfNew(created))
            return ApplyFirstSighting(tx, service, metadata, created);
        var file = tx.GetFile(metadata.Fid)!;
        var replica = tx.GetReplica(metadata.Fid, service);
        if (metadata.Revision is not null && replica?.Revision == metadata.Revision
            && (replica is not { Racy: true } || file.Deleted || replica.Version != file.Version))
        {
            // Known already: an echo of our own write, or a repeated report. A racily clean one of a version since
            // replaced or renamed aside is not re-checked (ApplyChangedContent): it is no change of the service's, so a
            // move planned from it (RenameAside) still has to run, and is kept.
            return ChangeOutcome.None;
        }

        // First, before this report can plan a new move from the path (RenameAside): a move planned there from the
        // content the service no longer has must not carry this one away. Done also when the contents must first be
        // compared: whatever the new content turns out to be, it is not the one that move was for.
        var movedAway = new ChangeOutcome();
        ForgetMoveAway(tx, file, replica, movedAway);
        var applied = ApplyChangedContent(tx, service, metadata, check, file, replica);
        return movedAway.HasWork ? movedAway.Merge(applied) : applied;
    }

    /// <summary>The part of <see cref="ApplyUpdate"/> for a new content of a known file.</summary>
    private ChangeOutcome ApplyChangedContent(StoreTransaction tx, string service, Onitu.Metadata metadata, ContentCheck? check,
        FileRecord file, ReplicaRecord? replica)
    {
        var extra = SerializeExtra(metadata.Extra);
        if (metadata.Revision is not null && replica?.Revision == metadata.Revision)
        {
            if (replica is not { Racy: true } || file.Deleted || replica.Version != file.Version)
                return ChangeOutcome.None; // known already: an echo of our own write, or a repeated report
            // Racily clean: the revision was recorded within the store's timestamp resolution of the last write, so a
            // same-size rewrite since may have kept it. The content decides.
            if (check is null || check.Version != file.Version)
                return ChangeOutcome.NeedsContentCheck(file);
            if (check.CurrentHash is { } known && file.Hash is null)
                tx.SetFileHash(file.Fid, file.Version, known);
            if (check.Same)
            {
                tx.UpsertReplica(replica with { Extra = extra, Racy = false });
                return ChangeOutcome.None;
            }
            if (check.CurrentHash is null && tx.GetReplicas(file.Fid).Exists(r => r.Holds && r.Version == file.Version && r.Service != service))
            {
                // The version's content is unknown (no hash, its other holders racy or unreadable): which copy changed
                // cannot be told, so both are kept.
                return ApplyConflict(tx, service, metadata, file, replica with { Version = 0 }, extra);
            }
            // Rewritten in place without its revision showing it: a new version, like any edit (below).
        }

        var readable = referee.CanRead(service, metadata.Folder)
            && referee.Accepts(service, metadata.Folder, metadata.Path, metadata.Size, metadata.MimeType);

        if (file.Deleted)
        {
            // A file recreated after a deletion: an edit always beats a deletion.
            return ApplyNewVersion(tx, service, metadata, file.Version + 1, extra, send: readable, newPath: true);
        }

        if (replica is { Holds: true } && replica.Version == file.Version)
        {
            if (!readable && referee.CanRead(service, metadata.Folder))
            {
                // The service's own rules refuse its new content (it grew past max-size, say): not taken from it, and
                // not overwritten either, since the edit is the user's.
                tx.UpsertReplica(replica with { Revision = metadata.Revision, Extra = extra });
                return ChangeOutcome.None;
            }
            if (!readable)
            {
                // Changes on a service Onitu may not read from are not taken into account (seed, mode "w"): a
                // mirror's own edit is undone, like rclone sync's destination, by sending it the current version
                // again. Its replica now holds content of no version of the file (version 0).
                tx.UpsertReplica(new ReplicaRecord(metadata.Fid, service, 0, metadata.Revision, extra));
                var undo = new ChangeOutcome();
                if (referee.CanWrite(service, file.Folder) && referee.Accepts(service, file.Folder, file.Path, file.Size, file.MimeType))
                {
                    tx.PutJob(file.Fid, service, JobKind.Upload, file.Version);
                    undo.TouchedJobs.Add((file.Fid, service));
                }
                return undo;
            }
            return ApplyNewVersion(tx, service, metadata, file.Version + 1, extra, send: true, newPath: false);
        }

        // The service holds a copy whose relation to the current version is unknown (it never received it, or the
        // record of receiving it was lost). The same content is the same version, whatever its history, on a
        // mirror too.
        if (metadata.Size == file.Size)
        {
            if (check is null || check.Version != file.Version)
                return ChangeOutcome.NeedsContentCheck(file);
            if (check.CurrentHash is { } hash && file.Hash is null)
                tx.SetFileHash(file.Fid, file.Version, hash);
            if (check.Same)
            {
                if (PlannedMoveHere(tx, file, service) is var (move, movedFrom))
                {
                    // The content a move planned on this service was to bring here is here already (a killed pass's own
                    // rename, whose record was lost): the move is done, and the old name, still there, goes in turn.
                    return CompleteMove(tx, move, movedFrom, metadata, oldKept: true);
                }
                tx.UpsertReplica(new ReplicaRecord(metadata.Fid, service, file.Version, metadata.Revision, extra));
                var same = new ChangeOutcome();
                DropJobsOf(tx, metadata.Fid, service, same);
                return same;
            }
        }

        if (readable && !referee.CanRead(file.Origin, file.Folder))
        {
            // The current version came from a service Onitu does not read (a mirror's own file, first seen there): it
            // was never synced, so the first readable content takes the path, and the mirror receives it.
            return ApplyNewVersion(tx, service, metadata, file.Version + 1, extra, send: true, newPath: true);
        }

        if (!readable)
        {
            // A write-only service's own edit is not read; it keeps its stale version and receives the current one.
            tx.UpsertReplica(new ReplicaRecord(metadata.Fid, service, replica?.Version ?? 0, metadata.Revision, extra));
            return ChangeOutcome.None;
        }

        return ApplyConflict(tx, service, metadata, file, replica, extra);
    }

    /// <summary>
    /// Records what <paramref name="service"/> reported as the file's new current version and, when
    /// <paramref name="send"/>, sends it where the rules say; <paramref name="newPath"/> when the path was not live
    /// before (a file/directory clash can only arise then).
    /// </summary>
    private ChangeOutcome ApplyNewVersion(StoreTransaction tx, string service, Onitu.Metadata metadata, long version, string? extra,
        bool send, bool newPath)
    {
        var current = NewVersion(metadata, version, service);
        tx.UpsertFile(current);
        tx.UpsertReplica(new ReplicaRecord(metadata.Fid, service, current.Version, metadata.Revision, extra));
        var outcome = new ChangeOutcome();
        DropJobsOf(tx, metadata.Fid, service, outcome);
        if (send)
            ScheduleUploads(tx, current, service, outcome, preserveOn: null);
        if (newPath)
            SeparateFileFromDirectory(tx, current, outcome);
        return outcome;
    }

    /// <summary>
    /// The part of <see cref="ApplyUpdate"/> for a file Onitu never saw, whose row was just inserted: no replica, no job
    /// can exist for it yet.
    /// </summary>
    private ChangeOutcome ApplyFirstSighting(StoreTransaction tx, string service, Onitu.Metadata metadata, FileRecord created)
    {
        tx.UpsertReplica(new ReplicaRecord(metadata.Fid, service, created.Version, metadata.Revision, SerializeExtra(metadata.Extra)));
        var outcome = new ChangeOutcome();
        if (referee.CanRead(service, metadata.Folder) && referee.Accepts(service, metadata.Folder, metadata.Path, metadata.Size, metadata.MimeType))
        {
            foreach (var target in referee.GetTargets(service, created.Folder, created.Path, created.Size, created.MimeType))
            {
                tx.PutJob(created.Fid, target, JobKind.Upload, created.Version);
                outcome.CreatedJobs = true;
            }
        }
        SeparateFileFromDirectory(tx, created, outcome);
        return outcome;
    }

    /// <summary>
    /// A file and a directory cannot share a path on one store: a new file <c>x</c> where another service has
    /// <c>x/…</c>, or a new <c>x/y</c> where another has the file <c>x</c>. The directory keeps the path; the file
    /// is renamed aside to a conflict name on every service that holds it, and from there sent everywhere.
    /// </summary>
    private void SeparateFileFromDirectory(StoreTransaction tx, FileRecord created, ChangeOutcome outcome)
    {
        var (under, blockingParents) = tx.FindLiveFilesInTheWay(created.Folder, created.Path);
        if (under)
        {
            RenameAside(tx, created, outcome);
            return;
        }
        foreach (var parent in blockingParents)
        {
            if (tx.GetFile(FileId.Compute(created.Folder, parent)) is { Deleted: false } blocking)
                RenameAside(tx, blocking, outcome);
        }
    }

    private void RenameAside(StoreTransaction tx, FileRecord file, ChangeOutcome outcome)
    {
        var now = clock.GetUtcNow();
        var conflictPath = ConflictNaming.Create(file.Path, file.Origin, file.ModifiedAt ?? now,
            path => tx.IsConflictNameTaken(file.Folder, path, file.Fid));
        var copyFid = FileId.Compute(file.Folder, conflictPath);
        var copy = file with { Fid = copyFid, Path = conflictPath, Version = (tx.GetFile(copyFid)?.Version ?? 0) + 1, Deleted = false };
        var gone = file with { Version = file.Version + 1, Deleted = true };
        // A holder of another content may be the loser of a conflict still waiting to be kept aside.
        var keepAs = tx.GetJobs(file.Fid).Where(j => j.PreserveAs is not null).ToDictionary(j => j.Target, j => j.PreserveAs!, StringComparer.Ordinal);
        tx.UpsertFile(copy);
        tx.UpsertFile(gone);
        DropStaleUploads(tx, file.Fid, outcome);
        foreach (var replica in tx.GetReplicas(file.Fid))
        {
            if (!replica.Holds)
                continue;
            if (replica.Version == file.Version)
            {
                // Each holder renames its own copy; once one did, the others are sent it (CompleteMove).
                tx.PutJob(copyFid, replica.Service, JobKind.Move, copy.Version, moveFrom: file.Fid);
                outcome.TouchedJobs.Add((copyFid, replica.Service));
            }
            else if (referee.CanWrite(replica.Service, file.Folder) && tx.GetMoveAway(file.Fid, replica.Service) is null)
            {
                // An older content of the file goes (the newer one survives under the conflict name); a conflict's
                // losing content is first kept under its own conflict name, as the conflict had planned; a content
                // already being renamed aside (an earlier RenameAside of this path) is left to that move.
                tx.PutJob(file.Fid, replica.Service, JobKind.Delete, gone.Version, preserveAs: keepAs.GetValueOrDefault(replica.Service));
                outcome.TouchedJobs.Add((file.Fid, replica.Service));
            }
        }
        outcome.PlannedRenamesAside.Add(new ConflictDetected(now, file.Folder, file.Path, conflictPath, file.Origin));
    }

    /// <summary>
    /// <paramref name="service"/> wrote <paramref name="metadata"/> without having received the file's current
    /// version. The later write (by modification time; the newer report when a time is unknown) keeps the name;
    /// the other content is kept under a conflict name (<see cref="ConflictNaming"/>). Where the losing content
    /// lives, the upload of the winner first moves it aside (the job's <c>preserve_as</c>), and from there the
    /// conflict copy is sent everywhere like any new file.
    /// </summary>
    /// <remarks>
    /// Keeping a content aside needs a service that holds it and receives the other one (it may be written, and its
    /// rules accept that content). When only one of the two contents can be kept so, the other keeps the name,
    /// whichever is later: a content held only by services that are only read from, or whose rules refuse the other
    /// content, would otherwise be announced as a conflict copy that no service ever makes (found by running the
    /// command: a later edit on B against an edit on A in mode <c>r</c> left A's content on A alone). The choice
    /// depends on the two writes and the setup only, not on which report came first. When neither can be kept aside,
    /// the later write keeps the name, and each content stays where it is.
    /// </remarks>
    private ChangeOutcome ApplyConflict(StoreTransaction tx, string service, Onitu.Metadata metadata, FileRecord file,
        ReplicaRecord? replica, string? extra)
    {
        var outcome = new ChangeOutcome();
        var now = clock.GetUtcNow();
        var updated = NewVersion(metadata, file.Version + 1, service);

        // The current content can be kept aside by a service holding it that receives the newcomer's content (the
        // upload bringing it there moves the current one aside first); prefer the current version's origin.
        var newcomerTargets = referee.GetTargets(service, updated.Folder, updated.Path, updated.Size, updated.MimeType);
        var keeper = tx.GetReplicas(file.Fid)
            .Where(r => r.Holds && r.Version == file.Version && newcomerTargets.Contains(r.Service, StringComparer.Ordinal))
            .OrderBy(r => r.Service == file.Origin ? 0 : 1)
            .FirstOrDefault();
        // The newcomer's content can be kept aside by its own service, if it receives the current content.
        var newcomerKeptAside = referee.CanWrite(service, file.Folder) && referee.Accepts(service, file.Folder, file.Path, file.Size, file.MimeType);
        var newcomerWins = (keeper is not null) == newcomerKeptAside
            ? LaterWrite.Compare(metadata.ModifiedAt, service, file.ModifiedAt, file.Origin) > 0
            : keeper is not null;

        bool IsTaken(string path) => tx.IsConflictNameTaken(file.Folder, path, file.Fid);

        if (newcomerWins)
        {
            tx.UpsertFile(updated);
            tx.UpsertReplica(new ReplicaRecord(metadata.Fid, service, updated.Version, metadata.Revision, extra));
            DropJobsOf(tx, metadata.Fid, service, outcome);
            if (keeper is null)
            {
                ScheduleUploads(tx, updated, service, outcome, preserveOn: null);
                outcome.ConflictsKeptInPlace.Add((file.Folder, file.Path, service, file.Origin));
                return outcome;
            }
            var conflictPath = ConflictNaming.Create(file.Path, file.Origin, file.ModifiedAt ?? now, IsTaken);
            ScheduleUploads(tx, updated, service, outcome, (keeper.Service, conflictPath));
            outcome.Events.Add(new ConflictDetected(now, file.Folder, file.Path, conflictPath, file.Origin));
        }
        else
        {
            tx.UpsertReplica(new ReplicaRecord(metadata.Fid, service, replica?.Version ?? 0, metadata.Revision, extra));
            if (!newcomerKeptAside)
            {
                outcome.ConflictsKeptInPlace.Add((file.Folder, file.Path, file.Origin, service));
                return outcome;
            }
            var conflictPath = ConflictNaming.Create(file.Path, service, metadata.ModifiedAt ?? now, IsTaken);
            tx.PutJob(file.Fid, service, JobKind.Upload, file.Version, preserveAs: conflictPath);
            outcome.TouchedJobs.Add((file.Fid, service));
            outcome.Events.Add(new ConflictDetected(now, file.Folder, file.Path, conflictPath, service));
        }
        return outcome;
    }

    public ChangeOutcome ApplyDelete(StoreTransaction tx, string service, Onitu.Metadata metadata)
    {
        var file = tx.GetFile(metadata.Fid);
        var replica = tx.GetReplica(metadata.Fid, service);
        if (file is null || replica is not { Holds: true })
            return ChangeOutcome.None;
        // The deletion of a revision the service no longer holds by the state's record is stale: the engine wrote
        // another content there since the report was made (a watcher's report that waited, the check of a transfer's
        // source that found it gone between the engine's move of it aside and the write of its new version). Applied,
        // it would delete that new content everywhere. If the file is really gone, its next report or scan says so
        // with the revision it had.
        if (metadata.Revision is not null && metadata.Revision != replica.Revision)
            return ChangeOutcome.None;

        tx.UpsertReplica(replica with { Revision = null, Extra = null });
        var outcome = new ChangeOutcome();
        ForgetMoveAway(tx, file, replica, outcome);
        if (file.Deleted)
            return outcome;

        var readable = referee.CanRead(service, file.Folder) && referee.Accepts(service, file.Folder, file.Path, file.Size, file.MimeType);
        if (replica.Version < file.Version || !readable)
        {
            // The service deleted a version older than the current one (an edit beats a deletion), or a service
            // Onitu may not read from lost its copy: it gets the current version back.
            if (referee.CanWrite(service, file.Folder) && referee.Accepts(service, file.Folder, file.Path, file.Size, file.MimeType))
            {
                tx.PutJob(file.Fid, service, JobKind.Upload, file.Version);
                outcome.TouchedJobs.Add((file.Fid, service));
            }
            return outcome;
        }

        var deleted = file with { Version = file.Version + 1, Origin = service, Deleted = true };
        tx.UpsertFile(deleted);
        tx.UpsertReplica(new ReplicaRecord(file.Fid, service, deleted.Version, null, null));
        DropJobsOf(tx, file.Fid, service, outcome);
        foreach (var other in tx.GetReplicas(file.Fid))
        {
            if (other.Service == service)
                continue;
            if (other.Holds && referee.CanWrite(other.Service, file.Folder))
            {
                tx.PutJob(file.Fid, other.Service, JobKind.Delete, deleted.Version);
                outcome.TouchedJobs.Add((file.Fid, other.Service));
            }
        }
        DropStaleUploads(tx, file.Fid, outcome);
        return outcome;
    }

    public ChangeOutcome ApplyMove(StoreTransaction tx, string service, Onitu.Metadata source, Onitu.Metadata destination)
    {
        var from = tx.GetFile(source.Fid);
        var held = tx.GetReplica(source.Fid, service);
        var to = tx.GetFile(destination.Fid);
        var clean = from is { Deleted: false } && held is { Holds: true } && held.Version == from.Version
            && referee.CanRead(service, from.Folder) && to is null or { Deleted: true };
        if (!clean)
        {
            // Not a move of the current version onto a free name: a deletion plus a new file says it exactly.
            return ApplyDelete(tx, service, source).Merge(ApplyUpdate(tx, service, destination));
        }

        var outcome = new ChangeOutcome();
        var gone = from! with { Version = from.Version + 1, Origin = service, Deleted = true };
        tx.UpsertFile(gone);
        tx.UpsertReplica(new ReplicaRecord(source.Fid, service, gone.Version, null, null));

        if (destination.Size == 0 && from.Size != 0 && destination.Revision is null)
            destination.Size = from.Size;
        destination.ModifiedAt ??= from.ModifiedAt;
        var moved = NewVersion(destination, (to?.Version ?? 0) + 1, service);
        tx.UpsertFile(moved);
        // A rename keeps the content and its time: a racily clean copy stays so.
        tx.UpsertReplica(new ReplicaRecord(destination.Fid, service, moved.Version, destination.Revision, SerializeExtra(destination.Extra), held!.Racy));

        var readable = referee.CanRead(service, moved.Folder) && referee.Accepts(service, moved.Folder, moved.Path, moved.Size, moved.MimeType);
        var targets = readable ? referee.GetTargets(service, moved.Folder, moved.Path, moved.Size, moved.MimeType) : [];

        // Transfers of the old location are pointless now.
        foreach (var job in tx.GetJobs(source.Fid))
        {
            if (job.Kind is not (JobKind.Delete or JobKind.AbortUpload))
            {
                tx.DropJob(job.Fid, job.Target);
                outcome.TouchedJobs.Add((job.Fid, job.Target));
            }
        }

        var handled = new HashSet<string>(StringComparer.Ordinal) { service };
        foreach (var other in tx.GetReplicas(source.Fid))
        {
            if (other.Service == service || !other.Holds)
                continue;
            if (targets.Contains(other.Service) && other.Version == from.Version)
            {
                tx.PutJob(destination.Fid, other.Service, JobKind.Move, moved.Version, moveFrom: source.Fid);
                outcome.TouchedJobs.Add((destination.Fid, other.Service));
                handled.Add(other.Service);
            }
            else if (referee.CanWrite(other.Service, from.Folder))
            {
                // Moved out of what this service receives (another folder, a rule): the old copy goes.
                tx.PutJob(source.Fid, other.Service, JobKind.Delete, gone.Version);
                outcome.TouchedJobs.Add((source.Fid, other.Service));
            }
        }
        foreach (var target in targets)
        {
            if (handled.Add(target))
            {
                tx.PutJob(destination.Fid, target, JobKind.Upload, moved.Version);
                outcome.TouchedJobs.Add((destination.Fid, target));
            }
        }
        SeparateFileFromDirectory(tx, moved, outcome);
        return outcome;
    }

    // ---- completions of jobs --------------------------------------------------------------------------------

    /// <summary>
    /// Records that <paramref name="job"/>'s target now holds the job's version with the revision it wrote,
    /// unless the target reported another change meanwhile (its replica no longer has
    /// <paramref name="expectedRevision"/>): then that report is the truth and is kept. <paramref name="racy"/>: the
    /// write is racily clean (see <see cref="ReplicaRecord.Racy"/>), recorded with it rather than by an update after.
    /// </summary>
    public ChangeOutcome CompleteUpload(StoreTransaction tx, JobRecord job, string? expectedRevision, Onitu.Metadata written, bool racy = false)
    {
        var (file, replica) = tx.GetFileAndReplica(job.Fid, job.Target);
        var outcome = new ChangeOutcome();
        if (replica is null || replica.Revision == expectedRevision)
        {
            // The target's previous content was overwritten: a move of it still planned there (the file was renamed
            // elsewhere, then written anew, while the target was away) has nothing left to move.
            if (replica is { Holds: true } && replica.Version < job.Version - 1 && file is not null)
            {
                ForgetMoveAway(tx, file, replica, outcome);
                file = tx.GetFile(job.Fid); // what forgetting the move rewrote is read again (rare)
            }
            tx.UpsertReplica(new ReplicaRecord(job.Fid, job.Target, job.Version, written.Revision, SerializeExtra(written.Extra), racy));
        }
        tx.DeleteJob(job.Id, job.Version);
        var followUp = FollowUpDeletion(tx, file, job.Target, job.Version);
        return outcome.HasWork ? outcome.Merge(followUp) : followUp;
    }

    /// <summary>
    /// <paramref name="job"/>'s copy landed on its target, but its source changed before the copy could be checked
    /// against it (a native copy, a target that read the content to its size only): what landed is of no known
    /// version. It is recorded as the engine's own write, content of no version (version 0), so that the next upload
    /// replaces it rather than meeting it as an edit of the target's: reported back, it would be a conflict, and with
    /// the target's fresh time it would even win one against a real concurrent edit. The job stays, rewritten by the
    /// source's report of its change; a deletion reported by the source deletes the copy in turn.
    /// </summary>
    public ChangeOutcome RecordUnverifiedCopy(StoreTransaction tx, JobRecord job, string? expectedRevision, Onitu.Metadata written)
    {
        if (tx.GetReplica(job.Fid, job.Target) is { } replica && replica.Revision != expectedRevision)
            return ChangeOutcome.None; // the target reported a change of its own meanwhile: that report is the truth
        tx.UpsertReplica(new ReplicaRecord(job.Fid, job.Target, 0, written.Revision, SerializeExtra(written.Extra)));
        return FollowUpDeletion(tx, tx.GetFile(job.Fid), job.Target, landedVersion: 0);
    }

    /// <summary>
    /// A copy that landed after its file was deleted or moved away (the deletion was decided while the copy was in
    /// flight, when the target did not hold it yet) must not linger: it is deleted in turn. <paramref name="file"/> is
    /// the file's row as it is now.
    /// </summary>
    private ChangeOutcome FollowUpDeletion(StoreTransaction tx, FileRecord? file, string target, long landedVersion)
    {
        if (file is not { Deleted: true } || file.Version <= landedVersion || !referee.CanWrite(target, file.Folder)
            || tx.GetJob(file.Fid, target) is not null)
        {
            return ChangeOutcome.None;
        }
        tx.PutJob(file.Fid, target, JobKind.Delete, file.Version);
        var outcome = new ChangeOutcome();
        outcome.TouchedJobs.Add((file.Fid, target));
        return outcome;
    }

    public void CompleteDelete(StoreTransaction tx, JobRecord job, string? expectedRevision)
    {
        var replica = tx.GetReplica(job.Fid, job.Target);
        if (replica is null || replica.Revision == expectedRevision)
            tx.UpsertReplica(new ReplicaRecord(job.Fid, job.Target, job.Version, null, null));
        tx.DeleteJob(job.Id, job.Version);
    }

    /// <summary>
    /// Records <paramref name="job"/>'s move on its target; <paramref name="oldKept"/> when it was made by a copy (a
    /// driver without a native move), which left the old name there to be deleted in turn.
    /// </summary>
    public ChangeOutcome CompleteMove(StoreTransaction tx, JobRecord job, Onitu.Metadata movedFrom, Onitu.Metadata movedTo, bool oldKept = false)
    {
        var old = tx.GetReplica(movedFrom.Fid, job.Target);
        var oldFile = tx.GetFile(movedFrom.Fid);
        // A move whose content no service held under the new name yet is a rename aside (an ordinary move was made
        // first by the service that reported it): its first holder's rename is when the conflict copy exists.
        var firstHolder = !tx.GetReplicas(job.Fid).Exists(r => r.Service != job.Target && r.Holds && r.Version == job.Version);
        if (old is not null && !oldKept)
            tx.UpsertReplica(old with { Version = oldFile?.Version ?? old.Version, Revision = null, Extra = null });
        tx.UpsertReplica(new ReplicaRecord(job.Fid, job.Target, job.Version, movedTo.Revision, SerializeExtra(movedTo.Extra)));
        tx.DeleteJob(job.Id, job.Version);
        var outcome = new ChangeOutcome().Merge(FollowUpDeletion(tx, tx.GetFile(job.Fid), job.Target, job.Version));
        if (oldKept && old is { Holds: true } && old.Revision == movedFrom.Revision)
            outcome.Merge(FollowUpDeletion(tx, tx.GetFile(movedFrom.Fid), job.Target, old.Version));
        if (tx.GetFile(job.Fid) is { Deleted: false } file && file.Version == job.Version)
        {
            if (firstHolder)
                outcome.Events.Add(new ConflictDetected(clock.GetUtcNow(), file.Folder, movedFrom.Path, file.Path, file.Origin));
            // A file renamed aside by the engine (RenameAside) reaches the services that did not hold it from the
            // first holder that renamed it; an ordinary move planned those copies already.
            foreach (var target in referee.GetTargets(job.Target, file.Folder, file.Path, file.Size, file.MimeType))
            {
                var replica = tx.GetReplica(job.Fid, target);
                var holds = replica is { Holds: true } && replica.Version == file.Version;
                if (!holds && tx.GetJob(job.Fid, target) is null)
                {
                    tx.PutJob(job.Fid, target, JobKind.Upload, file.Version);
                    outcome.TouchedJobs.Add((job.Fid, target));
                }
            }
        }
        return outcome;
    }

    /// <summary>
    /// The target's own (losing) content was kept as <paramref name="copy"/>: it becomes a file of its own, sent
    /// everywhere from there. When the copy was made by a move the target no longer holds the original name.
    /// </summary>
    public ChangeOutcome CompletePreserve(StoreTransaction tx, JobRecord job, Onitu.Metadata copy, bool movedAway)
    {
        var outcome = new ChangeOutcome();
        var existing = tx.GetFile(copy.Fid);
        if (existing is { Deleted: false })
        {
            tx.UpsertReplica(new ReplicaRecord(copy.Fid, job.Target, existing.Version, copy.Revision, SerializeExtra(copy.Extra)));
        }
        else
        {
            var created = NewVersion(copy, (existing?.Version ?? 0) + 1, job.Target);
            tx.UpsertFile(created);
            tx.UpsertReplica(new ReplicaRecord(copy.Fid, job.Target, created.Version, copy.Revision, SerializeExtra(copy.Extra)));
            ScheduleUploads(tx, created, job.Target, outcome, preserveOn: null);
        }
        if (movedAway && tx.GetReplica(job.Fid, job.Target) is { } original)
            tx.UpsertReplica(original with { Revision = null, Extra = null });
        // Not by version: a new version of the file while the copy was being kept rewrote the job with the plan carried
        // over, and its next run would move the target's new copy onto this conflict copy, refused at every attempt
        // (the likely cause of the model test's failure with seed 8844609280741961305).
        tx.ClearPreserve(job.Id, copy.Path);
        return outcome;
    }

    // ---- helpers --------------------------------------------------------------------------------------------

    /// <summary>Creates or rewrites the upload jobs that bring <paramref name="file"/> to the Referee's targets.</summary>
    private void ScheduleUploads(StoreTransaction tx, FileRecord file, string source, ChangeOutcome outcome, (string Service, string Path)? preserveOn)
    {
        foreach (var target in referee.GetTargets(source, file.Folder, file.Path, file.Size, file.MimeType))
        {
            var preserveAs = preserveOn is { } p && p.Service == target ? p.Path : null;
            tx.PutJob(file.Fid, target, JobKind.Upload, file.Version, preserveAs: preserveAs);
            outcome.TouchedJobs.Add((file.Fid, target));
        }
        DropStaleUploads(tx, file.Fid, outcome, file.Version);
    }

    /// <summary>
    /// A service reported its own change (a new content, a deletion) of a file it was still to move elsewhere: a rename
    /// aside (<see cref="RenameAside"/>) or a move another service made. That move would carry the new content, or
    /// nothing, under the other name (found by the model-based test: a file edited on B, deleted on A and replaced by a
    /// directory on C was renamed aside twice, its new content under the old content's conflict name, and that name
    /// was then held by no one). The move is dropped: the service receives the moved file from a holder like any
    /// other service, and a file renamed aside that no holder has moved, nor can any more (each changed or deleted
    /// its copy), had its content replaced or deleted everywhere; it is deleted, not sent from nowhere.
    /// </summary>
    private void ForgetMoveAway(StoreTransaction tx, FileRecord file, ReplicaRecord? replica, ChangeOutcome outcome)
    {
        // A move away leaves the file deleted at a newer version than the one the mover holds, and a file written
        // anew after it newer still: the common reports (of a service holding the current version, or the one
        // before) cost no query.
        if (replica is not { Holds: true } || replica.Version >= file.Version - (file.Deleted ? 0 : 1)
            || tx.GetMoveAway(file.Fid, replica.Service) is not { } move)
        {
            return;
        }
        tx.DropJob(move.Fid, move.Target);
        outcome.TouchedJobs.Add((move.Fid, move.Target));
        if (tx.GetFile(move.Fid) is not { Deleted: false } moved || moved.Version != move.Version)
            return;
        if (tx.GetReplicas(move.Fid).Exists(r => r.Holds && r.Version == moved.Version))
        {
            if (referee.CanWrite(move.Target, moved.Folder) && referee.Accepts(move.Target, moved.Folder, moved.Path, moved.Size, moved.MimeType))
            {
                tx.PutJob(move.Fid, move.Target, JobKind.Upload, moved.Version);
                outcome.TouchedJobs.Add((move.Fid, move.Target));
            }
        }
        else if (!tx.GetJobs(move.Fid).Exists(j => j.Kind == JobKind.Move))
        {
            // Other moves still planned will send it here once one is done (CompleteMove); with none left, nothing will.
            tx.UpsertFile(moved with { Version = moved.Version + 1, Deleted = true });
            DropStaleUploads(tx, move.Fid, outcome);
        }
    }

    /// <summary>The move of the current version onto <paramref name="file"/>'s path still planned on <paramref name="service"/>, if any, and its source there.</summary>
    private static (JobRecord Move, Onitu.Metadata From)? PlannedMoveHere(StoreTransaction tx, FileRecord file, string service)
    {
        if (tx.GetJob(file.Fid, service) is not { Kind: JobKind.Move, MoveFrom: { } from } move || move.Version != file.Version
            || tx.GetFile(from) is not { } source || tx.GetReplica(from, service) is not { Holds: true } held)
        {
            return null;
        }
        return (move, new Onitu.Metadata(source.Folder, source.Path) { Revision = held.Revision });
    }

    /// <summary>Drops jobs targeting the service that now holds the newest content itself.</summary>
    private static void DropJobsOf(StoreTransaction tx, Guid fid, string service, ChangeOutcome outcome)
    {
        if (tx.GetJob(fid, service) is { Kind: not JobKind.AbortUpload })
        {
            tx.DropJob(fid, service);
            outcome.TouchedJobs.Add((fid, service));
        }
    }

    /// <summary>Drops uploads of older versions that no rule sends any more (deleted file, changed rules).</summary>
    private static void DropStaleUploads(StoreTransaction tx, Guid fid, ChangeOutcome outcome, long currentVersion = long.MaxValue)
    {
        foreach (var job in tx.GetJobs(fid))
        {
            if (job.Kind is JobKind.Upload or JobKind.Move && job.Version < currentVersion)
            {
                tx.DropJob(job.Fid, job.Target);
                outcome.TouchedJobs.Add((job.Fid, job.Target));
            }
        }
    }

    // The time is the store's own, or none: the engine's clock is not a store's and must not decide a conflict.
    private static FileRecord NewVersion(Onitu.Metadata metadata, long version, string origin) => new(
        metadata.Fid, metadata.Folder, metadata.Path, metadata.Size, metadata.MimeType, version, origin,
        metadata.ModifiedAt, Deleted: false);

    internal static string? SerializeExtra(IDictionary<string, string> extra) =>
        extra.Count == 0 ? null : JsonText.Object(extra);

    internal static void DeserializeExtra(string? json, IDictionary<string, string> into)
    {
        if (json is null)
            return;
        JsonText.ReadObject(json, into);
    }
}
