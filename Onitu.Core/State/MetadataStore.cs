using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Onitu.Diagnostics;

namespace Onitu.State;

/// <summary>
/// The SQLite metadata store: files, replicas, jobs and driver state, in WAL mode with a versioned schema.
/// </summary>
/// <remarks>
/// <para>All writes go through one writer connection, in the order they were asked. The writer groups the writes
/// that queue up while a transaction commits into the next transaction (group commit), each in its own savepoint,
/// so a burst of thousands of file events costs a few commits instead of thousands while every caller still
/// returns only once its change is durable in the database — the "persist before acting" rule.</para>
/// <para>Listings read on their own connections (WAL lets readers run beside the writer) and stream their rows.</para>
/// </remarks>
internal sealed class MetadataStore : IAsyncDisposable
{
    private const int MaxWritesPerTransaction = 512;
    private const int MinQueuedToWait = 3;
    private const int EnoughToShare = 16;
    private static readonly TimeSpan BusyWindow = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan GroupCommitDelay = TimeSpan.FromMilliseconds(1);

    private readonly string _connectionString;
    private readonly SqliteConnection _writer;
    private readonly StoreTransaction _transaction;
    private readonly Channel<PendingWrite> _writes = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writerLoop;
    private readonly ILogger _logger;
    private readonly StateLock _lock;
    // Counted for the debug log at close: how well the writer groups writes (each transaction writes every page it
    // dirtied to the WAL once, so fewer, fuller transactions write less).
    private long _writesCommitted;
    private long _transactionsCommitted;

    private MetadataStore(string connectionString, SqliteConnection writer, StateLock stateLock, ILogger logger)
    {
        _connectionString = connectionString;
        _writer = writer;
        _lock = stateLock;
        _logger = logger;
        _transaction = new StoreTransaction(writer);
        _writerLoop = Task.Run(WriteLoopAsync);
    }

    /// <summary>Where the database lives.</summary>
    public required string DatabasePath { get; init; }

    /// <summary>The reads that answer questions about the state (pages, counts, plans).</summary>
    public StateQueries Queries => field ??= new StateQueries(this);

    /// <summary>
    /// Opens (creating or migrating) the database at <paramref name="path"/>, holding it exclusively (see
    /// <see cref="StateLock"/>) until disposed.
    /// </summary>
    /// <exception cref="OnituException">
    /// Another engine holds the database, or it is unreadable (corrupt, not a database, newer schema); the message
    /// names the file and says how to recover.
    /// </exception>
    public static MetadataStore Open(string path, ILogger logger)
    {
        var fullPath = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
        var stateLock = StateLock.Acquire(fullPath);
        try
        {
            return Open(fullPath, stateLock, logger);
        }
        catch (SqliteException e)
        {
            stateLock.Dispose();
            throw Unreadable(fullPath, e);
        }
        catch
        {
            stateLock.Dispose();
            throw;
        }
    }

    /// <summary>The error for a state database SQLite cannot use, with what went wrong and how to recover.</summary>
    private static OnituException Unreadable(string path, SqliteException e) =>
        Unreadable(path, $"{e.Message.TrimEnd('.')} (SQLite error {e.SqliteErrorCode})", e);

    private static OnituException Unreadable(string path, string problem, Exception? inner = null) => new(
        $"The state database '{path}' cannot be used: {problem}. " +
        $"Move it aside (for example to '{path}.broken') and run again: Onitu pairs the services anew by comparing " +
        "contents, so nothing is copied twice or kept as a conflict copy.", inner);

    private static MetadataStore Open(string fullPath, StateLock stateLock, ILogger logger)
    {
        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = fullPath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();

        var writer = new SqliteConnection(connectionString);
        writer.Open();
        try
        {
            Execute(writer, "PRAGMA journal_mode = WAL;");
            // NORMAL in WAL mode: a commit survives a process crash; only an OS crash can lose the last commits,
            // never corrupt the database.
            Execute(writer, "PRAGMA synchronous = NORMAL;");
            Execute(writer, "PRAGMA temp_store = MEMORY;");
            // Checkpoints (the only fsyncs in WAL mode with synchronous NORMAL) every 64 MiB of WAL rather than 4 MiB:
            // a scan or an initial sync writes a lot, and each checkpoint stalls the writer on a busy disk.
            Execute(writer, "PRAGMA wal_autocheckpoint = 16384;");
            Migrate(writer, fullPath, logger);
            // Reads one page of each table: a database whose header survived but whose tables did not fails here,
            // at start, rather than in the middle of a sync.
            Execute(writer, "SELECT count(*) FROM (SELECT 1 FROM files LIMIT 1); SELECT count(*) FROM (SELECT 1 FROM jobs LIMIT 1);");
            VerifyStructure(writer, fullPath);
        }
        catch
        {
            writer.Dispose();
            throw;
        }
        return new MetadataStore(connectionString, writer, stateLock, logger) { DatabasePath = fullPath };
    }

    /// <summary>
    /// Checks every page of every table and index (<c>PRAGMA quick_check</c>: the b-trees' structure and the indexes'
    /// agreement with their rows, without <c>integrity_check</c>'s costlier cross-checks): a page damaged anywhere is
    /// refused at the start, before anything read from it is acted on, rather than met half-way through a scan or a
    /// transfer, where it used to fail each service in turn or end the command with SQLite's own exception (found by
    /// overwriting one page of the files, then of the jobs table). It reads the whole database: measured 7 ms for a
    /// database of 10,000 files and 40-80 ms for 100,000 (3 MB and 31 MB, from the page cache).
    /// </summary>
    private static void VerifyStructure(SqliteConnection connection, string path)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA quick_check(1);";
        var verdict = Convert.ToString(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        if (verdict != "ok")
            throw Unreadable(path, $"it is damaged ({verdict})");
    }

    private static void Migrate(SqliteConnection connection, string path, ILogger logger)
    {
        using var versionCommand = connection.CreateCommand();
        versionCommand.CommandText = "PRAGMA user_version;";
        var current = Convert.ToInt32(versionCommand.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        if (current > Schema.LatestVersion)
        {
            throw new OnituException(
                $"The state database '{path}' has schema version {current}, newer than this Onitu understands ({Schema.LatestVersion}). Use a newer Onitu or another database.");
        }
        if (current == Schema.LatestVersion)
            return;

        using var transaction = connection.BeginTransaction();
        for (var version = current; version < Schema.LatestVersion; version++)
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = Schema.Migrations[version] + $"\nPRAGMA user_version = {version + 1};";
            command.ExecuteNonQuery();
        }
        transaction.Commit();
        Log.SchemaMigrated(logger, path, current, Schema.LatestVersion);
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// Runs <paramref name="operation"/> inside a write transaction and returns once it is committed.
    /// The operation must be synchronous and quick: it holds the writer.
    /// </summary>
    public Task<T> WriteAsync<T>(Func<StoreTransaction, T> operation, CancellationToken cancellationToken = default)
    {
        var pending = new PendingWrite<T>(operation);
        if (!_writes.Writer.TryWrite(pending))
            throw new ObjectDisposedException(nameof(MetadataStore));
        return pending.Task.WaitAsync(cancellationToken);
    }

    /// <inheritdoc cref="WriteAsync{T}(Func{StoreTransaction, T}, CancellationToken)"/>
    public Task WriteAsync(Action<StoreTransaction> operation, CancellationToken cancellationToken = default) =>
        WriteAsync(tx => { operation(tx); return true; }, cancellationToken);

    private async Task WriteLoopAsync()
    {
        var batch = new List<PendingWrite>(MaxWritesPerTransaction);
        var lastCommit = 0L;
        while (await _writes.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < MaxWritesPerTransaction && _writes.Reader.TryRead(out var write))
                batch.Add(write);
            if (batch.Count is >= MinQueuedToWait and < EnoughToShare && Stopwatch.GetElapsedTime(lastCommit) < BusyWindow)
            {
                // Writes are streaming in from callers with many in flight (a scan's window of reports, a run of
                // transfers): wait a moment for more to share the transaction. Each transaction writes every page it
                // dirtied to the WAL, and a few writes dirty about as many pages as a few hundred of the same run
                // (measured on an initial sync of 10,000 files: 5,000 transactions of 4 writes without the wait,
                // about 900 of 20 with it). Those callers do not wait longer in effect: a scan keeps a window of reports in
                // flight and a transfer gives its slot back before its record commits. A caller that waits for each
                // write before the next (a watcher's stream of events) finds at most one or two writes queued and is
                // never held up, nor is a write after a quiet spell.
                // A batch that is already large does not wait: the writer is then what the callers wait for (a scan
                // whose window is full waits on its oldest report, which is in this batch), and the "1 ms" wait is
                // 2-3 ms of an idle writer. Measured on the same sync: the writer sat 150-180 ms of a 0.65 s pass in
                // these waits with batches up to the window's 256, 85-120 ms with batches under 16; the pass took 25-30 ms
                // less.
                await Task.Delay(GroupCommitDelay).ConfigureAwait(false);
                while (batch.Count < MaxWritesPerTransaction && _writes.Reader.TryRead(out var write))
                    batch.Add(write);
            }

            if (!TryCommitTogether(batch))
                CommitOneByOne(batch);
            lastCommit = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>
    /// Runs the whole batch in one transaction. Writes rarely fail, so no savepoint is paid for per write: if one
    /// throws, everything is rolled back and <see cref="CommitOneByOne"/> runs the batch again, isolating it.
    /// </summary>
    private bool TryCommitTogether(List<PendingWrite> batch)
    {
        try
        {
            using (var transaction = _writer.BeginTransaction(deferred: false))
            {
                _transaction.Begin(transaction);
                try
                {
                    foreach (var write in batch)
                        write.Run(_transaction);
                    transaction.Commit();
                }
                finally
                {
                    _transaction.End();
                }
            }
        }
        catch (Exception e) when (batch.Count > 1)
        {
            Log.StoreBatchRetried(_logger, batch.Count, e.Message);
            return false;
        }
        catch (Exception e)
        {
            Log.StoreWriteFailed(_logger, e);
            batch[0].Fail(e);
            return true;
        }
        _transactionsCommitted++;
        _writesCommitted += batch.Count;
        foreach (var write in batch)
            write.Complete();
        return true;
    }

    private void CommitOneByOne(List<PendingWrite> batch)
    {
        foreach (var write in batch)
        {
            try
            {
                using var transaction = _writer.BeginTransaction(deferred: false);
                _transaction.Begin(transaction);
                try
                {
                    write.Run(_transaction);
                    transaction.Commit();
                }
                finally
                {
                    _transaction.End();
                }
            }
            catch (Exception e)
            {
                Log.StoreWriteFailed(_logger, e);
                write.Fail(e);
                continue;
            }
            _transactionsCommitted++;
            _writesCommitted++;
            write.Complete();
        }
    }

    /// <summary>Opens a read-only connection for a listing or a status query.</summary>
    public SqliteConnection OpenReader()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    /// <summary>Streams rows of a query on a reader connection, mapping each with <paramref name="map"/>.</summary>
    public async IAsyncEnumerable<T> QueryAsync<T>(string sql, Action<SqliteParameterCollection> bind, Func<SqliteDataReader, T> map,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        bind(command.Parameters);
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            yield return map(reader);
    }

    /// <summary>Reads one of the engine's own facts (the <c>meta</c> table; written with <see cref="StoreTransaction.SetMeta"/>).</summary>
    public string? GetMeta(string key) =>
        QueryScalar<string>("SELECT value FROM meta WHERE key = $key", p => p.AddWithValue("$key", key));

    /// <summary>Returns one scalar value of a query on a reader connection.</summary>
    public T? QueryScalar<T>(string sql, Action<SqliteParameterCollection>? bind = null)
    {
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        bind?.Invoke(command.Parameters);
        var value = command.ExecuteScalar();
        return value is null or DBNull ? default : (T)Convert.ChangeType(value, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _writes.Writer.TryComplete();
        await _writerLoop.ConfigureAwait(false);
        Log.StoreClosed(_logger, _writesCommitted, _transactionsCommitted);
        _transaction.Dispose();
        using (var command = _writer.CreateCommand())
        {
            // Fold the WAL back into the database so a stopped Onitu leaves one self-contained file.
            command.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
            await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        await _writer.DisposeAsync().ConfigureAwait(false);
        SqliteConnection.ClearPool(new SqliteConnection(_connectionString));
        _lock.Dispose();
    }

    private abstract class PendingWrite
    {
        public abstract void Run(StoreTransaction transaction);
        public abstract void Complete();
        public abstract void Fail(Exception exception);
    }

    private sealed class PendingWrite<T>(Func<StoreTransaction, T> operation) : PendingWrite
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _result;
        private bool _failed;

        public Task<T> Task => _completion.Task;

        public override void Run(StoreTransaction transaction) => _result = operation(transaction);

        public override void Complete()
        {
            if (!_failed)
                _completion.TrySetResult(_result!);
        }

        public override void Fail(Exception exception)
        {
            _failed = true;
            _completion.TrySetException(exception);
        }
    }
}
