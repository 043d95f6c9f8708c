using Microsoft.Data.Sqlite;

namespace Onitu.State;

/// <summary>
/// A row of the state database, read by column: what the records are made from (<see cref="StoreTransaction.ReadFile"/>
/// and its siblings), whether the writer's <see cref="PreparedStatement"/> or a reader's <see cref="SqliteDataReader"/>
/// produced it.
/// </summary>
internal interface IStateRow
{
    /// <summary>The number of columns.</summary>
    int FieldCount { get; }

    /// <summary>Whether <paramref name="column"/> is NULL.</summary>
    bool IsDBNull(int column);

    /// <summary><paramref name="column"/> as an integer.</summary>
    long GetInt64(int column);

    /// <summary><paramref name="column"/> as text.</summary>
    string GetString(int column);

    /// <summary><paramref name="column"/>, a file id in the text form of <see cref="StoreTransaction.Key"/>.</summary>
    Guid GetGuid(int column);
}

/// <summary>The current row of <paramref name="reader"/>.</summary>
internal readonly struct ReaderRow(SqliteDataReader reader) : IStateRow
{
    /// <inheritdoc />
    public int FieldCount => reader.FieldCount;

    /// <inheritdoc />
    public bool IsDBNull(int column) => reader.IsDBNull(column);

    /// <inheritdoc />
    public long GetInt64(int column) => reader.GetInt64(column);

    /// <inheritdoc />
    public string GetString(int column) => reader.GetString(column);

    /// <inheritdoc />
    public Guid GetGuid(int column) => Guid.Parse(reader.GetString(column));
}

/// <summary>
/// The rows of one run of a writer's <see cref="PreparedStatement"/>: <see cref="Read"/> moves to the next, and
/// disposing resets the statement for its next run.
/// </summary>
internal readonly struct StatementRows(PreparedStatement statement) : IStateRow, IDisposable
{
    /// <summary>Moves to the next row; false when there is none.</summary>
    public bool Read() => statement.Step();

    /// <inheritdoc />
    public int FieldCount => statement.FieldCount;

    /// <inheritdoc />
    public bool IsDBNull(int column) => statement.IsDBNull(column);

    /// <inheritdoc />
    public long GetInt64(int column) => statement.GetInt64(column);

    /// <inheritdoc />
    public string GetString(int column) => statement.GetString(column);

    /// <inheritdoc />
    public Guid GetGuid(int column) => statement.GetGuid(column);

    /// <inheritdoc />
    public void Dispose() => statement.Reset();
}
