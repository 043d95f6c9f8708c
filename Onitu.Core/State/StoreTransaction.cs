using Microsoft.Data.Sqlite;

namespace Onitu.State;

/// <summary>
/// The typed operations available inside a write transaction of the <see cref="MetadataStore"/>. Their statements are
/// prepared once on the writer's connection and reused (<see cref="PreparedStatement"/>): the engine runs these for
/// every file event.
/// </summary>
internal sealed class StoreTransaction : IDisposable
{
    private const string FileColumns = "fid, folder, path, size, mime, version, origin, modified_at, deleted, hash";

    // Replicas and jobs point at their file's row (files.id, see Schema version 4); they are read with the file's
    // fid, which is what the engine knows them by.
    private const string JobColumns =
        "j.id, f.fid, j.target, j.kind, j.version, j.offset, j.started, j.chunk_size, m.fid, j.preserve_as, j.attempts, j.not_before, j.last_error";
    private const string FromJobs = " FROM jobs j JOIN files f ON f.id = j.file LEFT JOIN files m ON m.id = j.move_from";
    private const string ReplicaColumns = "f.fid, r.service, r.version, r.revision, r.extra, r.racy";
    private const string FromReplicas = " FROM replicas r JOIN files f ON f.id = r.file";

    /// <summary>The row of the file whose fid is the statement's parameter <c>$0</c>.</summary>
    private const string FileRow = "(SELECT id FROM files WHERE fid = $0)";

    private readonly SqliteConnection _connection;
    private readonly Dictionary<string, PreparedStatement> _statements = new(StringComparer.Ordinal);
    private SqliteTransaction? _transaction;

    public StoreTransaction(SqliteConnection connection) => _connection = connection;

    // The statements run on the connection's own transaction: BEGIN and COMMIT are Microsoft.Data.Sqlite's.
    internal void Begin(SqliteTransaction transaction) => _transaction = transaction;

    internal void End() => _transaction = null;

    internal void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.Transaction = _transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    // The statement for sql, prepared on first use (see PreparedStatement), with values bound to $0, $1...
    private PreparedStatement Prepare(string sql, ReadOnlySpan<object?> values)
    {
        if (!_statements.TryGetValue(sql, out var statement))
        {
            statement = new PreparedStatement(_connection.Handle!, sql, values.Length);
            _statements[sql] = statement;
        }
        try
        {
            statement.Bind(values);
        }
        catch
        {
            statement.Reset();
            throw;
        }
        return statement;
    }

    private StatementRows Query(string sql, params ReadOnlySpan<object?> values) => new(Prepare(sql, values));

    private int NonQuery(string sql, params ReadOnlySpan<object?> values)
    {
        var statement = Prepare(sql, values);
        try
        {
            return statement.Execute();
        }
        finally
        {
            statement.Reset();
        }
    }

    // ---- files ----------------------------------------------------------------------------------------------

    public FileRecord? GetFile(Guid fid)
    {
        using var reader = Query($"SELECT {FileColumns} FROM files WHERE fid = $0", fid);
        return reader.Read() ? ReadFile(reader) : null;
    }

    public void UpsertFile(FileRecord file) => NonQuery(
        $"INSERT INTO files ({FileColumns}) VALUES ($0, $1, $2, $3, $4, $5, $6, $7, $8, $9) " +
        "ON CONFLICT (fid) DO UPDATE SET size = $3, mime = $4, version = $5, origin = $6, modified_at = $7, deleted = $8, hash = $9",
        file.Fid, file.Folder, file.Path, file.Size, file.MimeType, file.Version, file.Origin,
        file.ModifiedAt?.UtcTicks, file.Deleted ? 1 : 0, file.Deleted ? null : file.Hash);

    /// <summary>Inserts <paramref name="file"/>'s row unless a row has its fid; whether it was inserted.</summary>
    public bool InsertFileIfNew(FileRecord file) => NonQuery(
        $"INSERT INTO files ({FileColumns}) VALUES ($0, $1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (fid) DO NOTHING",
        file.Fid, file.Folder, file.Path, file.Size, file.MimeType, file.Version, file.Origin,
        file.ModifiedAt?.UtcTicks, file.Deleted ? 1 : 0, file.Deleted ? null : file.Hash) == 1;

    /// <summary>Whether a live file lies under <paramref name="path"/> taken as a directory (some service has <c>path/…</c>).</summary>
    public bool HasLiveFileUnder(string folder, string path)
    {
        // '0' follows '/' in code-point order: [path + '/', path + '0') is everything under the directory.
        using var reader = Query("SELECT 1 FROM files WHERE folder = $0 AND path >= $1 AND path < $2 AND deleted = 0 LIMIT 1",
            folder, path + "/", path + "0");
        return reader.Read();
    }

    /// <summary>
    /// What stands in the way of a file at <paramref name="path"/>: whether a live file lies under it taken as a
    /// directory (<see cref="HasLiveFileUnder"/>), and which of its parent directories are live files, nearest first.
    /// </summary>
    public (bool Under, List<string> Parents) FindLiveFilesInTheWay(string folder, string path)
    {
        var parents = ParentsOf(path);
        if (parents.Count > MaxParentsAsked)
        {
            var under = HasLiveFileUnder(folder, path);
            return (under, under ? [] : parents.FindAll(p => HasLiveFile(folder, p)));
        }
        // One statement for the whole question (a first sighting asks it of every new file): the parents are looked up
        // in the (folder, path) index, and the files under the path by a range of it, one row at most.
        HashSet<string>? found = null; // the common answer is no row at all
        var anyUnder = false;
        using (var reader = Query(
            "SELECT path FROM files WHERE folder = $0 AND path IN ($1, $2, $3, $4) AND deleted = 0 " +
            "UNION ALL SELECT * FROM (SELECT path FROM files WHERE folder = $0 AND path >= $5 AND path < $6 AND deleted = 0 LIMIT 1)",
            folder, parents.ElementAtOrDefault(0), parents.ElementAtOrDefault(1), parents.ElementAtOrDefault(2), parents.ElementAtOrDefault(3),
            path + "/", path + "0"))
        {
            while (reader.Read())
            {
                var live = reader.GetString(0);
                if (live.Length > path.Length)
                    anyUnder = true;
                else
                    (found ??= new HashSet<string>(StringComparer.Ordinal)).Add(live);
            }
        }
        return (anyUnder, anyUnder || found is null ? [] : parents.FindAll(found.Contains));
    }

    private const int MaxParentsAsked = 4;

    // The directories above path, nearest first ("a/b/c.txt": "a/b", "a").
    private static List<string> ParentsOf(string path)
    {
        var parents = new List<string>();
        for (var directory = FilePath.GetDirectory(path); directory.Length > 0; directory = FilePath.GetDirectory(directory))
            parents.Add(directory);
        return parents;
    }

    /// <summary>Whether a live (not deleted) file has <paramref name="path"/> in <paramref name="folder"/>.</summary>
    public bool HasLiveFile(string folder, string path) => GetFile(FileId.Compute(folder, path)) is { Deleted: false };

    /// <summary>
    /// Whether a conflict copy of <paramref name="except"/>'s content may not be named <paramref name="path"/>: a live
    /// file has it, or another file's job plans to keep its losing content there (a conflict on a conflict copy names
    /// its loser after the original, so two can pick the same name in one pass; found by the model test, seed
    /// 7347755886703488857).
    /// </summary>
    public bool IsConflictNameTaken(string folder, string path, Guid except) =>
        HasLiveFile(folder, path) || IsPlannedConflictCopy(folder, path, except);

    /// <summary>
    /// Whether a job of another file than <paramref name="except"/> plans to keep a conflict's losing content at
    /// <paramref name="path"/> of <paramref name="folder"/>: that path is no file yet, but it is taken.
    /// </summary>
    public bool IsPlannedConflictCopy(string folder, string path, Guid except)
    {
        // Conflicts are rare: a scan of the jobs when naming one is cheaper than an index kept for every job. CROSS JOIN
        // keeps that order: left to itself, SQLite would walk every file of the folder instead.
        using var reader = Query("SELECT 1 FROM jobs j CROSS JOIN files f ON f.id = j.file WHERE j.preserve_as = $0 AND f.folder = $1 AND f.fid <> $2 LIMIT 1",
            path, folder, except);
        return reader.Read();
    }

    /// <summary>Records the content hash of <paramref name="version"/>, if it is still the file's current version.</summary>
    public void SetFileHash(Guid fid, long version, string hash) =>
        NonQuery("UPDATE files SET hash = $2 WHERE fid = $0 AND version = $1 AND deleted = 0", fid, version, hash);

    internal static FileRecord ReadFile(SqliteDataReader r) => ReadFile(new ReaderRow(r));

    internal static FileRecord ReadFile<TRow>(TRow r) where TRow : IStateRow => new(
        r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetInt64(3), r.GetString(4), r.GetInt64(5),
        r.GetString(6), r.IsDBNull(7) ? null : new DateTimeOffset(r.GetInt64(7), TimeSpan.Zero), r.GetInt64(8) != 0,
        r.IsDBNull(9) ? null : r.GetString(9));

    // ---- replicas -------------------------------------------------------------------------------------------

    public ReplicaRecord? GetReplica(Guid fid, string service)
    {
        using var reader = Query($"SELECT {ReplicaColumns}{FromReplicas} WHERE f.fid = $0 AND r.service = $1",
            fid, service);
        return reader.Read() ? ReadReplica(reader) : null;
    }

    /// <summary>
    /// The file's row and <paramref name="service"/>'s replica of it, read together (a completed transfer needs both).
    /// </summary>
    public (FileRecord? File, ReplicaRecord? Replica) GetFileAndReplica(Guid fid, string service)
    {
        using var reader = Query(
            "SELECT f.fid, f.folder, f.path, f.size, f.mime, f.version, f.origin, f.modified_at, f.deleted, f.hash, " +
            "r.service, r.version, r.revision, r.extra, r.racy FROM files f LEFT JOIN replicas r ON r.file = f.id AND r.service = $1 WHERE f.fid = $0",
            fid, service);
        if (!reader.Read())
            return (null, null);
        var file = ReadFile(reader);
        var replica = reader.IsDBNull(10) ? null : new ReplicaRecord(file.Fid, reader.GetString(10), reader.GetInt64(11),
            reader.IsDBNull(12) ? null : reader.GetString(12), reader.IsDBNull(13) ? null : reader.GetString(13), !reader.IsDBNull(14) && reader.GetInt64(14) != 0);
        return (file, replica);
    }

    public List<ReplicaRecord> GetReplicas(Guid fid)
    {
        var replicas = new List<ReplicaRecord>();
        using var reader = Query($"SELECT {ReplicaColumns}{FromReplicas} WHERE f.fid = $0", fid);
        while (reader.Read())
            replicas.Add(ReadReplica(reader));
        return replicas;
    }

    public void UpsertReplica(ReplicaRecord replica) => NonQuery(
        $"INSERT INTO replicas (file, service, version, revision, extra, racy) VALUES ({FileRow}, $1, $2, $3, $4, $5) " +
        "ON CONFLICT (file, service) DO UPDATE SET version = $2, revision = $3, extra = $4, racy = $5",
        replica.Fid, replica.Service, replica.Version, replica.Revision, replica.Extra, replica.Racy && replica.Holds ? 1 : 0);

    /// <summary>
    /// Marks the replica racily clean when it still has <paramref name="revision"/> (what a report or a write just
    /// recorded); see <see cref="ReplicaRecord.Racy"/>.
    /// </summary>
    public void MarkRacy(Guid fid, string service, string? revision)
    {
        if (revision is not null)
            NonQuery($"UPDATE replicas SET racy = 1 WHERE file = {FileRow} AND service = $1 AND revision = $2", fid, service, revision);
    }

    internal static ReplicaRecord ReadReplica(SqliteDataReader r) => ReadReplica(new ReaderRow(r));

    internal static ReplicaRecord ReadReplica<TRow>(TRow r) where TRow : IStateRow => new(
        r.GetGuid(0), r.GetString(1), r.GetInt64(2), r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4),
        r.FieldCount > 5 && !r.IsDBNull(5) && r.GetInt64(5) != 0);

    // ---- jobs -----------------------------------------------------------------------------------------------

    public JobRecord? GetJob(Guid fid, string target)
    {
        using var reader = Query($"SELECT {JobColumns}{FromJobs} WHERE j.file = {FileRow} AND j.target = $1", fid, target);
        return reader.Read() ? ReadJob(reader) : null;
    }

    public JobRecord? GetJob(long id)
    {
        using var reader = Query($"SELECT {JobColumns}{FromJobs} WHERE j.id = $0", id);
        return reader.Read() ? ReadJob(reader) : null;
    }

    public List<JobRecord> GetJobs(Guid fid)
    {
        var jobs = new List<JobRecord>();
        using var reader = Query($"SELECT {JobColumns}{FromJobs} WHERE j.file = {FileRow}", fid);
        while (reader.Read())
            jobs.Add(ReadJob(reader));
        return jobs;
    }

    /// <summary>
    /// Creates or rewrites the job bringing <paramref name="target"/> to <paramref name="version"/> of the file:
    /// a rewritten job starts over (offset 0) and keeps its row id, so an in-flight transfer sees it was superseded.
    /// </summary>
    public void PutJob(Guid fid, string target, JobKind kind, long version, Guid? moveFrom = null, string? preserveAs = null) => NonQuery(
        $"INSERT INTO jobs (file, target, kind, version, move_from, preserve_as) VALUES ({FileRow}, $1, $2, $3, (SELECT id FROM files WHERE fid = $4), $5) " +
        "ON CONFLICT (file, target) DO UPDATE SET kind = $2, version = $3, offset = 0, started = 0, chunk_size = 0, " +
        "move_from = excluded.move_from, preserve_as = coalesce($5, preserve_as), attempts = 0, not_before = 0, last_error = NULL",
        fid, target, (int)kind, version, moveFrom, preserveAs);

    /// <summary>The move job on <paramref name="target"/> that takes its copy of <paramref name="fid"/> elsewhere, if any.</summary>
    public JobRecord? GetMoveAway(Guid fid, string target)
    {
        using var reader = Query($"SELECT {JobColumns}{FromJobs} WHERE j.move_from = {FileRow} AND j.target = $1 AND j.kind = $2 LIMIT 1", fid, target, (int)JobKind.Move);
        return reader.Read() ? ReadJob(reader) : null;
    }

    /// <summary>
    /// When the deletions or moves away planned on <paramref name="target"/> that clear the way for a file at
    /// <paramref name="path"/> (of a file at one of its parent directories, or of files under it as a directory) may
    /// still run (fewer than <paramref name="maxAttempts"/> failures): the latest time one of them is due; null when
    /// none is planned.
    /// </summary>
    public DateTimeOffset? GetWayClearingDue(string folder, string path, string target, int maxAttempts)
    {
        var parents = ParentsOf(path);
        using var reader = Query(
            "SELECT max(j.not_before) FROM jobs j JOIN files f ON f.id = CASE WHEN j.kind = $3 THEN j.move_from ELSE j.file END " +
            "WHERE j.target = $0 AND j.kind IN ($2, $3) AND j.attempts < $4 AND f.folder = $1 " +
            "AND (f.path IN (SELECT value FROM json_each($5)) OR (f.path >= $6 AND f.path < $7))",
            target, folder, (int)JobKind.Delete, (int)JobKind.Move, maxAttempts,
            JsonText.Array(parents), path + "/", path + "0");
        return reader.Read() && !reader.IsDBNull(0) ? new DateTimeOffset(reader.GetInt64(0), TimeSpan.Zero) : null;
    }

    public bool DeleteJob(long id, long version) => NonQuery("DELETE FROM jobs WHERE id = $0 AND version = $1", id, version) == 1;

    public void DeleteJob(Guid fid, string target) => NonQuery($"DELETE FROM jobs WHERE file = {FileRow} AND target = $1", fid, target);

    /// <summary>
    /// Removes the job of <paramref name="fid"/> for <paramref name="target"/>, except that a started upload becomes an
    /// <see cref="JobKind.AbortUpload"/>: its partial file on the target is dropped rather than left behind.
    /// </summary>
    public void DropJob(Guid fid, string target)
    {
        NonQuery("UPDATE jobs SET kind = $2, offset = 0, attempts = 0, not_before = 0, last_error = NULL " +
                 $"WHERE file = {FileRow} AND target = $1 AND kind = $3 AND started = 1",
            fid, target, (int)JobKind.AbortUpload, (int)JobKind.Upload);
        NonQuery($"DELETE FROM jobs WHERE file = {FileRow} AND target = $1 AND kind <> $2", fid, target, (int)JobKind.AbortUpload);
    }

    /// <summary>Records upload progress; false when the job was superseded meanwhile.</summary>
    public bool SaveProgress(long id, long version, long offset, int chunkSize) => NonQuery(
        "UPDATE jobs SET offset = $2, started = 1, chunk_size = $3 WHERE id = $0 AND version = $1", id, version, offset, chunkSize) == 1;

    /// <summary>Gives every job that failed before its attempts and its delay back (a new run tries again).</summary>
    public void ResetRetries() => NonQuery("UPDATE jobs SET attempts = 0, not_before = 0 WHERE attempts > 0");

    public bool ClearPreserve(long id, long version) =>
        NonQuery("UPDATE jobs SET preserve_as = NULL WHERE id = $0 AND version = $1", id, version) == 1;

    /// <summary>
    /// Forgets the plan to keep a content under <paramref name="conflictPath"/> once it is kept there, whatever version
    /// the job was rewritten to meanwhile (a rewrite carries the plan over): that path is a live file now, and moving
    /// anything else onto it would be refused forever.
    /// </summary>
    public bool ClearPreserve(long id, string conflictPath) =>
        NonQuery("UPDATE jobs SET preserve_as = NULL WHERE id = $0 AND preserve_as = $1", id, conflictPath) == 1;

    /// <summary>Plans to keep a content under <paramref name="to"/> instead of <paramref name="from"/>, taken since it was planned.</summary>
    public bool RenamePreserve(long id, string from, string to) =>
        NonQuery("UPDATE jobs SET preserve_as = $2 WHERE id = $0 AND preserve_as = $1", id, from, to) == 1;

    public void ConvertJob(long id, JobKind kind) =>
        NonQuery("UPDATE jobs SET kind = $1, move_from = NULL, offset = 0, started = 0 WHERE id = $0", id, (int)kind);

    public void PostponeJob(long id, long version, int attempts, DateTimeOffset notBefore, string error, bool resetUpload) => NonQuery(
        "UPDATE jobs SET attempts = $2, not_before = $3, last_error = $4, " +
        "offset = CASE WHEN $5 THEN 0 ELSE offset END, started = CASE WHEN $5 THEN 0 ELSE started END WHERE id = $0 AND version = $1",
        id, version, attempts, notBefore.UtcTicks, error, resetUpload ? 1 : 0);

    internal static JobRecord ReadJob(SqliteDataReader r) => ReadJob(new ReaderRow(r));

    internal static JobRecord ReadJob<TRow>(TRow r) where TRow : IStateRow => new(
        r.GetInt64(0), r.GetGuid(1), r.GetString(2), (JobKind)r.GetInt64(3), r.GetInt64(4), r.GetInt64(5),
        r.GetInt64(6) != 0, (int)r.GetInt64(7), r.IsDBNull(8) ? null : r.GetGuid(8), r.IsDBNull(9) ? null : r.GetString(9),
        (int)r.GetInt64(10), new DateTimeOffset(r.GetInt64(11), TimeSpan.Zero), r.IsDBNull(12) ? null : r.GetString(12));

    /// <summary>Jobs with their files' fids (<c>j</c> the job, <c>f</c> its file, <c>m</c> a move's old location).</summary>
    internal const string SelectJobs = $"SELECT {JobColumns}{FromJobs}";
    internal const string SelectFiles = $"SELECT {FileColumns} FROM files";
    /// <summary>Replicas with their files' fids (<c>r</c> the replica, <c>f</c> its file).</summary>
    internal const string SelectReplicas = $"SELECT {ReplicaColumns}{FromReplicas}";

    // ---- the engine's own facts ------------------------------------------------------------------------------

    public void SetMeta(string key, string? value)
    {
        if (value is null)
            NonQuery("DELETE FROM meta WHERE key = $0", key);
        else
            NonQuery("INSERT INTO meta (key, value) VALUES ($0, $1) ON CONFLICT (key) DO UPDATE SET value = $1", key, value);
    }

    // ---- driver state ---------------------------------------------------------------------------------------

    public void SetDriverState(string service, string key, string? value)
    {
        if (value is null)
            NonQuery("DELETE FROM driver_state WHERE service = $0 AND key = $1", service, key);
        else
            NonQuery("INSERT INTO driver_state (service, key, value) VALUES ($0, $1, $2) ON CONFLICT (service, key) DO UPDATE SET value = $2",
                service, key, value);
    }

    /// <summary>
    /// A file id as the state stores it: its "D" text. <see cref="PreparedStatement"/> binds a <see cref="Guid"/> in the
    /// same form, so the writer's statements are given the fid itself.
    /// </summary>
    internal static string Key(Guid fid) => fid.ToString("D");

    public void Dispose()
    {
        foreach (var statement in _statements.Values)
            statement.Dispose();
        _statements.Clear();
    }
}
