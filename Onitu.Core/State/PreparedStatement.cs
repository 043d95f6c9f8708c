using System.Buffers;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Onitu.State;

/// <summary>
/// One SQL statement of the writer, prepared once on its connection and run again and again: parameters bound by the
/// position found when it was prepared, rows read by column, reset after each use.
/// </summary>
/// <remarks>
/// This is what <see cref="StoreTransaction"/> runs for every file event, on the one connection that writes: the single
/// writer is the serial point of an initial sync. A prepared <see cref="SqliteCommand"/> looks up each parameter by its
/// name on every execution (a UTF-8 copy of the name and a search of the statement's names) and allocates a binder per
/// parameter, a reader and a record per execution. Measured with dotnet-trace on an initial sync of 10,000 files, the
/// name lookups alone were 16 % of the writer's time, and those binders the largest allocation after strings (26 MB).
/// Text is bound and read as UTF-8 encoded by .NET, as Microsoft.Data.Sqlite does, so that a value written either way
/// reads back the same. Errors are the <see cref="SqliteException"/>s Microsoft.Data.Sqlite throws. Unlike its commands,
/// a step is not retried on SQLITE_BUSY: the writer's statements run inside its IMMEDIATE transaction, which already
/// holds the write lock, and in WAL mode no reader blocks a writer. A reader connection would need that retry.
/// </remarks>
internal sealed class PreparedStatement : IDisposable
{
    // Longer text is encoded into a pooled buffer instead of the stack.
    private const int StackTextBytes = 512;

    private readonly sqlite3 _database;
    private readonly sqlite3_stmt _statement;
    private readonly int[] _parameterIndexes;

    /// <summary>Prepares <paramref name="sql"/>, one statement whose parameters are <c>$0</c> to <c>$<paramref name="parameterCount"/>-1</c>, each used.</summary>
    /// <exception cref="SqliteException">SQLite refused the statement.</exception>
    /// <exception cref="ArgumentException">The statement's parameters are not exactly those (a mistake in the SQL).</exception>
    public PreparedStatement(sqlite3 database, string sql, int parameterCount)
    {
        _database = database;
        Check(raw.sqlite3_prepare_v3(database, sql, raw.SQLITE_PREPARE_PERSISTENT, out _statement, out string tail));
        try
        {
            if (!string.IsNullOrWhiteSpace(tail))
                throw new ArgumentException($"Only one statement can be prepared at a time; '{tail.Trim()}' follows it.", nameof(sql));
            if (raw.sqlite3_bind_parameter_count(_statement) != parameterCount)
                throw new ArgumentException($"The statement has {raw.sqlite3_bind_parameter_count(_statement)} parameters, not {parameterCount}: {sql}", nameof(sql));
            _parameterIndexes = new int[parameterCount];
            for (var i = 0; i < parameterCount; i++)
            {
                // SQLite numbers parameters in the order they first appear, which is not always $0, $1...
                _parameterIndexes[i] = raw.sqlite3_bind_parameter_index(_statement, "$" + i);
                if (_parameterIndexes[i] == 0)
                    throw new ArgumentException($"The statement does not use ${i}: {sql}", nameof(sql));
            }
        }
        catch
        {
            _statement.Dispose();
            throw;
        }
    }

    /// <summary>Binds <paramref name="values"/> to <c>$0</c>, <c>$1</c>...: null, text, integers, booleans (0 or 1) and <see cref="Guid"/>s (as their text).</summary>
    public void Bind(ReadOnlySpan<object?> values)
    {
        if (values.Length != _parameterIndexes.Length)
            throw new ArgumentException($"{values.Length} values for {_parameterIndexes.Length} parameters.", nameof(values));
        for (var i = 0; i < values.Length; i++)
            Check(BindValue(_parameterIndexes[i], values[i]));
    }

    private int BindValue(int index, object? value) => value switch
    {
        null or DBNull => raw.sqlite3_bind_null(_statement, index),
        string text => BindText(index, text),
        long number => raw.sqlite3_bind_int64(_statement, index, number),
        int number => raw.sqlite3_bind_int64(_statement, index, number),
        bool flag => raw.sqlite3_bind_int64(_statement, index, flag ? 1 : 0),
        Guid id => BindGuid(index, id),
        _ => throw new ArgumentException($"Cannot bind a {value.GetType().Name} to a statement of the state database.", nameof(value)),
    };

    private int BindText(int index, string text)
    {
        var length = Encoding.UTF8.GetMaxByteCount(text.Length);
        byte[]? rented = null;
        var buffer = length <= StackTextBytes ? stackalloc byte[StackTextBytes] : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            // SQLite copies the bytes (SQLITE_TRANSIENT): the buffer is free again once bound.
            return raw.sqlite3_bind_text(_statement, index, buffer[..Encoding.UTF8.GetBytes(text, buffer)]);
        }
        finally
        {
            if (rented is not null)
                ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private int BindGuid(int index, Guid id)
    {
        Span<byte> text = stackalloc byte[36];
        id.TryFormat(text, out var written, "D");
        return raw.sqlite3_bind_text(_statement, index, text[..written]);
    }

    /// <summary>Runs the statement to its next row: false when there is none left.</summary>
    /// <exception cref="SqliteException">The statement failed (a full disk, a corrupt database, a constraint).</exception>
    public bool Step()
    {
        var result = raw.sqlite3_step(_statement);
        if (result == raw.SQLITE_ROW)
            return true;
        if (result != raw.SQLITE_DONE)
            Check(result);
        return false;
    }

    /// <summary>Runs a statement that returns no rows; the number of rows it inserted, updated or deleted.</summary>
    public int Execute()
    {
        while (Step())
        {
        }
        return raw.sqlite3_changes(_database);
    }

    /// <summary>Makes the statement ready to run again (its bindings are replaced by the next <see cref="Bind"/>).</summary>
    public void Reset() => raw.sqlite3_reset(_statement); // its result repeats the last step's error, thrown already

    /// <summary>The number of columns of the statement's rows.</summary>
    public int FieldCount => raw.sqlite3_column_count(_statement);

    /// <summary>Whether <paramref name="column"/> of the current row is NULL.</summary>
    public bool IsDBNull(int column) => raw.sqlite3_column_type(_statement, column) == raw.SQLITE_NULL;

    /// <summary><paramref name="column"/> of the current row as an integer.</summary>
    public long GetInt64(int column) => raw.sqlite3_column_int64(_statement, column);

    /// <summary><paramref name="column"/> of the current row as text.</summary>
    public string GetString(int column) => raw.sqlite3_column_text(_statement, column).utf8_to_string();

    /// <summary><paramref name="column"/> of the current row, text in the form of <see cref="StoreTransaction.Key"/>, as a <see cref="Guid"/>.</summary>
    public Guid GetGuid(int column) => Guid.Parse(raw.sqlite3_column_blob(_statement, column));

    private void Check(int result)
    {
        if (result != raw.SQLITE_OK)
            SqliteException.ThrowExceptionForRC(result, _database);
    }

    /// <inheritdoc />
    public void Dispose() => _statement.Dispose();
}
