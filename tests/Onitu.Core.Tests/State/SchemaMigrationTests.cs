using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Onitu.State;

namespace Onitu.Core.Tests.State;

/// <summary>
/// A state database written by an older Onitu opens in this one with everything it knew: the migration to integer row
/// keys (schema 4) rebuilds the files, replicas and jobs tables, so every column of every kind of row is checked.
/// </summary>
public sealed class SchemaMigrationTests : StateDatabaseTest
{
    [Test]
    public async Task A_version_3_database_keeps_its_files_replicas_and_jobs()
    {
        var path = DatabasePath;
        var kept = FileId.Compute("docs", "a/kept.txt");
        var moved = FileId.Compute("docs", "b/new.txt");
        var movedFrom = FileId.Compute("docs", "b/old.txt");
        var gone = FileId.Compute("docs", "gone.txt");
        var modified = new DateTimeOffset(2026, 11, 27, 10, 0, 0, TimeSpan.Zero);
        var due = modified.AddMinutes(5);
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            for (var version = 0; version < 3; version++)
                Execute(connection, Schema.Migrations[version] + $"\nPRAGMA user_version = {version + 1};");
            Execute(connection, $"""
                INSERT INTO files (fid, folder, path, size, mime, version, origin, modified_at, deleted, hash) VALUES
                    ('{kept:D}', 'docs', 'a/kept.txt', 12, 'text/plain', 3, 'A', {modified.UtcTicks}, 0, 'xxh128:00112233445566778899aabbccddeeff'),
                    ('{moved:D}', 'docs', 'b/new.txt', 7, 'text/plain', 2, 'B', NULL, 0, NULL),
                    ('{movedFrom:D}', 'docs', 'b/old.txt', 7, 'text/plain', 2, 'B', NULL, 1, NULL),
                    ('{gone:D}', 'docs', 'gone.txt', 0, 'text/plain', 5, 'A', NULL, 1, NULL);
                INSERT INTO replicas (fid, service, version, revision, extra, racy) VALUES
                    ('{kept:D}', 'A', 3, 'rev-a', '{Extra}', 1),
                    ('{kept:D}', 'B', 2, 'rev-b', NULL, 0),
                    ('{moved:D}', 'B', 2, 'rev-new', NULL, 0),
                    ('{movedFrom:D}', 'A', 1, 'rev-old', NULL, 0);
                INSERT INTO jobs (id, fid, target, kind, version, offset, started, chunk_size, move_from, preserve_as, attempts, not_before, last_error) VALUES
                    (7, '{kept:D}', 'B', {(int)JobKind.Upload}, 3, 4096, 1, 1024, NULL, 'a/kept.conflict-B-20261127-100000.txt', 2, {due.UtcTicks}, 'B: refused'),
                    (9, '{moved:D}', 'A', {(int)JobKind.Move}, 2, 0, 0, 0, '{movedFrom:D}', NULL, 0, 0, NULL);
                """);
        }

        await using var store = MetadataStore.Open(path, NullLogger.Instance);
        var (files, replicas, upload, move, moveAway) = await store.WriteAsync(tx => (
            new[] { tx.GetFile(kept), tx.GetFile(moved), tx.GetFile(movedFrom), tx.GetFile(gone) },
            tx.GetReplicas(kept).OrderBy(r => r.Service).Concat(tx.GetReplicas(moved)).Concat(tx.GetReplicas(movedFrom)).ToList(),
            tx.GetJob(kept, "B"), tx.GetJob(moved, "A"), tx.GetMoveAway(movedFrom, "A")));

        Assert.Multiple(() =>
        {
            Assert.That(files[0], Is.EqualTo(new FileRecord(kept, "docs", "a/kept.txt", 12, "text/plain", 3, "A", modified, Deleted: false,
                "xxh128:00112233445566778899aabbccddeeff")));
            Assert.That(files[1], Is.EqualTo(new FileRecord(moved, "docs", "b/new.txt", 7, "text/plain", 2, "B", null, Deleted: false)));
            Assert.That(files[2]!.Deleted, Is.True);
            Assert.That(files[3]!.Version, Is.EqualTo(5));
            Assert.That(replicas, Is.EqualTo(new[]
            {
                new ReplicaRecord(kept, "A", 3, "rev-a", Extra, Racy: true),
                new ReplicaRecord(kept, "B", 2, "rev-b", null),
                new ReplicaRecord(moved, "B", 2, "rev-new", null),
                new ReplicaRecord(movedFrom, "A", 1, "rev-old", null),
            }));
            Assert.That(upload, Is.EqualTo(new JobRecord(7, kept, "B", JobKind.Upload, 3, 4096, Started: true, 1024, MoveFrom: null,
                "a/kept.conflict-B-20261127-100000.txt", 2, due, "B: refused")));
            Assert.That(move, Is.EqualTo(new JobRecord(9, moved, "A", JobKind.Move, 2, 0, Started: false, 0, movedFrom, null, 0,
                new DateTimeOffset(0, TimeSpan.Zero), null)));
            Assert.That(moveAway?.Id, Is.EqualTo(9), "the move is found by the file it takes away");
        });

        // The migrated tables take new rows like a new database's.
        var added = FileId.Compute("docs", "c.txt");
        var job = await store.WriteAsync(tx =>
        {
            tx.UpsertFile(new FileRecord(added, "docs", "c.txt", 1, "text/plain", 1, "A", null, Deleted: false));
            tx.UpsertReplica(new ReplicaRecord(added, "A", 1, "rev-c", null));
            tx.PutJob(added, "B", JobKind.Upload, 1);
            return tx.GetJob(added, "B");
        });
        Assert.That(job?.Id, Is.GreaterThan(9));
    }

    [Test]
    public async Task A_replica_or_job_of_an_unknown_file_is_refused_rather_than_written_without_its_file()
    {
        await using var store = OpenStore();
        var unknown = FileId.Compute("docs", "nowhere.txt");

        Assert.ThrowsAsync<SqliteException>(() => store.WriteAsync(tx => tx.UpsertReplica(new ReplicaRecord(unknown, "A", 1, "rev", null))));
        Assert.ThrowsAsync<SqliteException>(() => store.WriteAsync(tx => tx.PutJob(unknown, "A", JobKind.Upload, 1)));
    }

    private const string Extra = """{"k":"v"}""";

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
