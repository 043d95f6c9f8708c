namespace Onitu.State;

/// <summary>
/// The metadata store's schema, one script per version. The database records its version in
/// <c>PRAGMA user_version</c>; opening an older database runs the missing scripts in order, in one transaction.
/// </summary>
internal static class Schema
{
    public static readonly string[] Migrations =
    [
        // Version 1.
        """
        -- The current version of every file Onitu knows, deleted ones included (a tombstone remembers the
        -- version so a late edit elsewhere can still be told from a stale one).
        CREATE TABLE files (
            fid         TEXT    NOT NULL PRIMARY KEY,
            folder      TEXT    NOT NULL,
            path        TEXT    NOT NULL,
            size        INTEGER NOT NULL,
            mime        TEXT    NOT NULL,
            version     INTEGER NOT NULL,   -- bumped by every new content, deletion or move
            origin      TEXT    NOT NULL,   -- the service that produced the current version
            modified_at INTEGER,            -- UTC ticks of the current content's write, when known
            deleted     INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID;
        CREATE INDEX files_by_folder_path ON files (folder, path);

        -- What each service holds of each file: the file version whose content it has, and the driver's revision
        -- of it (NULL when the service does not hold the file).
        CREATE TABLE replicas (
            fid      TEXT    NOT NULL,
            service  TEXT    NOT NULL,
            version  INTEGER NOT NULL,
            revision TEXT,
            extra    TEXT,
            PRIMARY KEY (fid, service)
        ) WITHOUT ROWID;

        -- Work to do, persisted before it is done and removed only once it is: bring one service (target) to
        -- one version of one file. At most one job per file and target; a newer version rewrites the row.
        CREATE TABLE jobs (
            id          INTEGER PRIMARY KEY,
            fid         TEXT    NOT NULL,
            target      TEXT    NOT NULL,
            kind        INTEGER NOT NULL,   -- JobKind
            version     INTEGER NOT NULL,
            offset      INTEGER NOT NULL DEFAULT 0,  -- bytes written and acknowledged (chunked uploads)
            started     INTEGER NOT NULL DEFAULT 0,  -- an upload was begun on the target at this version
            chunk_size  INTEGER NOT NULL DEFAULT 0,
            move_from   TEXT,               -- moves: the fid of the old location on the target
            preserve_as TEXT,               -- conflicts: keep the target's own content under this path first
            attempts    INTEGER NOT NULL DEFAULT 0,
            not_before  INTEGER NOT NULL DEFAULT 0,  -- UTC ticks before which the job is not retried
            last_error  TEXT,
            UNIQUE (fid, target)
        );
        CREATE INDEX jobs_by_due ON jobs (not_before, id);

        -- Drivers' own key-value state (IDriverStateStore).
        CREATE TABLE driver_state (
            service TEXT NOT NULL,
            key     TEXT NOT NULL,
            value   TEXT NOT NULL,
            PRIMARY KEY (service, key)
        ) WITHOUT ROWID;
        """,
        // Version 2: content identity, folder markers, the setup a database last ran with.
        """
        -- The content hash of the current version ("xxh128:<hex>"), once known: two copies of a path that meet
        -- without a known relation (a first pairing, a lost database) are the same version when size and hash agree.
        ALTER TABLE files ADD COLUMN hash TEXT;

        -- The engine's own facts: which folder markers it created, the fingerprint of the rules it last ran with.
        CREATE TABLE meta (
            key   TEXT NOT NULL PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;
        """,
        // Version 3: racily clean replicas.
        """
        -- 1 when the replica's revision was recorded within its store's timestamp resolution of the file's last write:
        -- a same-size rewrite in that tick keeps the revision, so the next scan checks the content by hash.
        ALTER TABLE replicas ADD COLUMN racy INTEGER NOT NULL DEFAULT 0;
        """,
        // Version 4: integer row keys. File ids are name-based UUIDs, random by design: keyed by them, every write of
        // a replica or a job landed on a page of its own, and a transaction of a few hundred writes rewrote about as
        // many pages (measured: 4.4 WAL pages per file of an initial sync). Replicas and jobs now point at the file's
        // row, numbered in the order files were first seen, so the writes of a scan or of a run of transfers share
        // pages; only the fid index is still written at random.
        """
        CREATE TABLE files_v4 (
            id          INTEGER PRIMARY KEY,
            fid         TEXT    NOT NULL UNIQUE,
            folder      TEXT    NOT NULL,
            path        TEXT    NOT NULL,
            size        INTEGER NOT NULL,
            mime        TEXT    NOT NULL,
            version     INTEGER NOT NULL,
            origin      TEXT    NOT NULL,
            modified_at INTEGER,
            deleted     INTEGER NOT NULL DEFAULT 0,
            hash        TEXT
        );
        INSERT INTO files_v4 (fid, folder, path, size, mime, version, origin, modified_at, deleted, hash)
            SELECT fid, folder, path, size, mime, version, origin, modified_at, deleted, hash FROM files ORDER BY folder, path;

        CREATE TABLE replicas_v4 (
            file     INTEGER NOT NULL,   -- files.id
            service  TEXT    NOT NULL,
            version  INTEGER NOT NULL,
            revision TEXT,
            extra    TEXT,
            racy     INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (file, service)
        ) WITHOUT ROWID;
        INSERT INTO replicas_v4 (file, service, version, revision, extra, racy)
            SELECT f.id, r.service, r.version, r.revision, r.extra, r.racy FROM replicas r JOIN files_v4 f ON f.fid = r.fid;

        CREATE TABLE jobs_v4 (
            id          INTEGER PRIMARY KEY,
            file        INTEGER NOT NULL,   -- files.id
            target      TEXT    NOT NULL,
            kind        INTEGER NOT NULL,
            version     INTEGER NOT NULL,
            offset      INTEGER NOT NULL DEFAULT 0,
            started     INTEGER NOT NULL DEFAULT 0,
            chunk_size  INTEGER NOT NULL DEFAULT 0,
            move_from   INTEGER,            -- moves: files.id of the old location on the target
            preserve_as TEXT,
            attempts    INTEGER NOT NULL DEFAULT 0,
            not_before  INTEGER NOT NULL DEFAULT 0,
            last_error  TEXT,
            UNIQUE (file, target)
        );
        INSERT INTO jobs_v4 (id, file, target, kind, version, offset, started, chunk_size, move_from, preserve_as, attempts, not_before, last_error)
            SELECT j.id, f.id, j.target, j.kind, j.version, j.offset, j.started, j.chunk_size, m.id, j.preserve_as, j.attempts, j.not_before, j.last_error
            FROM jobs j JOIN files_v4 f ON f.fid = j.fid LEFT JOIN files_v4 m ON m.fid = j.move_from;

        DROP TABLE jobs;
        DROP TABLE replicas;
        DROP TABLE files;
        ALTER TABLE files_v4 RENAME TO files;
        ALTER TABLE replicas_v4 RENAME TO replicas;
        ALTER TABLE jobs_v4 RENAME TO jobs;
        CREATE INDEX files_by_folder_path ON files (folder, path);
        -- The scheduler walks jobs by id; the old index by due time served no query. Moves are looked up by the file
        -- they take away, and are few: the index holds only them.
        CREATE INDEX jobs_by_move_from ON jobs (move_from) WHERE move_from IS NOT NULL;
        """,
    ];

    public static int LatestVersion => Migrations.Length;
}
