using Microsoft.Data.Sqlite;
using Onitu.State;

namespace Onitu.Core.Tests.State;

/// <summary>
/// <see cref="PreparedStatement"/>, the writer's statements run on the raw SQLite handle: what it binds and reads must be
/// what Microsoft.Data.Sqlite, which the readers use, binds and reads.
/// </summary>
public class PreparedStatementTests : StateDatabaseTest
{
    private SqliteConnection _connection = null!;

    [SetUp]
    public void OpenDatabase()
    {
        _connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        _connection.Open();
        using var command = _connection.CreateCommand();
        command.CommandText = "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, size INTEGER, note TEXT)";
        command.ExecuteNonQuery();
    }

    [TearDown]
    public void CloseDatabase() => _connection.Dispose();

    private PreparedStatement Prepare(string sql, int parameterCount) => new(_connection.Handle!, sql, parameterCount);

    private List<(string? Name, long? Size, string? Note)> ReadAll()
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT name, size, note FROM t ORDER BY id";
        using var reader = command.ExecuteReader();
        var rows = new List<(string?, long?, string?)>();
        while (reader.Read())
            rows.Add((reader.IsDBNull(0) ? null : reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetString(2)));
        return rows;
    }

    [Test]
    public void Parameters_are_bound_by_their_number_whatever_order_the_statement_names_them_in()
    {
        using var insert = Prepare("INSERT INTO t (note, size, name) VALUES ($2, $0, $1)", 3);

        insert.Bind([4096L, "a.txt", null]);
        insert.Execute();
        insert.Reset();
        insert.Bind([7, "b.txt", "second"]);
        insert.Execute();
        insert.Reset();

        Assert.That(ReadAll(), Is.EqualTo(new List<(string?, long?, string?)> { ("a.txt", 4096, null), ("b.txt", 7, "second") }));
    }

    [TestCase("plain.txt")]
    [TestCase("Résumé/日本語/ファイル.txt")]
    [TestCase("emoji 🙂 and a lone surrogate \ud800 here")]
    public void Text_reads_back_as_Microsoft_Data_Sqlite_writes_it(string text)
    {
        var repeated = string.Concat(Enumerable.Repeat(text, 60)); // past the bytes encoded on the stack
        using (var command = _connection.CreateCommand())
        {
            command.CommandText = "INSERT INTO t (name, note) VALUES ($a, $b)";
            command.Parameters.AddWithValue("$a", "by-command");
            command.Parameters.AddWithValue("$b", text);
            command.ExecuteNonQuery();
        }
        using (var insert = Prepare("INSERT INTO t (name, note) VALUES ($0, $1)", 2))
        {
            foreach (var (name, note) in new[] { ("short", text), ("long", repeated) })
            {
                insert.Bind([name, note]);
                insert.Execute();
                insert.Reset();
            }
        }

        using var select = Prepare("SELECT note FROM t WHERE name = $0", 1);
        string ReadNote(string name)
        {
            select.Bind([name]);
            using var rows = new StatementRows(select);
            Assert.That(rows.Read(), Is.True);
            return rows.GetString(0);
        }

        var rowsRead = ReadAll();
        Assert.Multiple(() =>
        {
            Assert.That(rowsRead[1].Note, Is.EqualTo(rowsRead[0].Note), "bound as Microsoft.Data.Sqlite binds it");
            Assert.That(rowsRead[2].Note, Is.EqualTo(string.Concat(Enumerable.Repeat(rowsRead[0].Note, 60))));
            Assert.That(ReadNote("short"), Is.EqualTo(rowsRead[0].Note), "read as Microsoft.Data.Sqlite reads it");
            Assert.That(ReadNote("long"), Is.EqualTo(rowsRead[2].Note));
        });
    }

    [Test]
    public void A_file_id_is_bound_and_read_as_its_key()
    {
        var fid = FileId.Compute("docs", "a.txt");
        using (var insert = Prepare("INSERT INTO t (name) VALUES ($0)", 1))
        {
            insert.Bind([fid]);
            insert.Execute();
        }
        using var select = Prepare("SELECT name FROM t WHERE name = $0", 1);
        select.Bind([StoreTransaction.Key(fid)]);
        using var rows = new StatementRows(select);

        Assert.That(rows.Read(), Is.True, "the text bound for the Guid is its key");
        Assert.That(rows.GetGuid(0), Is.EqualTo(fid));
        Assert.That(rows.Read(), Is.False);
    }

    [Test]
    public void The_rows_changed_are_counted_and_a_statement_that_changes_none_counts_zero()
    {
        using var insert = Prepare("INSERT INTO t (name, size) VALUES ($0, $1) ON CONFLICT (name) DO NOTHING", 2);
        using var grow = Prepare("UPDATE t SET size = size + $0", 1);
        int Run(PreparedStatement statement, params object?[] values)
        {
            statement.Bind(values);
            try
            {
                return statement.Execute();
            }
            finally
            {
                statement.Reset();
            }
        }

        Assert.Multiple(() =>
        {
            Assert.That(Run(insert, "a", 1L), Is.EqualTo(1));
            Assert.That(Run(insert, "b", 2L), Is.EqualTo(1));
            Assert.That(Run(insert, "a", 3L), Is.EqualTo(0), "the name is taken: nothing inserted");
            Assert.That(Run(grow, 10L), Is.EqualTo(2));
        });
    }

    [Test]
    public void A_failing_statement_throws_SQLites_error_and_runs_again_afterwards()
    {
        using var insert = Prepare("INSERT INTO t (name) VALUES ($0)", 1);
        insert.Bind(["a"]);
        insert.Execute();
        insert.Reset();

        insert.Bind(["a"]);
        var error = Assert.Throws<SqliteException>(() => insert.Execute());
        insert.Reset();
        insert.Bind(["b"]);
        insert.Execute();
        insert.Reset();

        Assert.Multiple(() =>
        {
            Assert.That(error!.SqliteErrorCode, Is.EqualTo(SQLitePCL.raw.SQLITE_CONSTRAINT));
            Assert.That(error.Message, Does.Contain("UNIQUE"));
            Assert.That(ReadAll().Select(r => r.Name), Is.EqualTo(new[] { "a", "b" }));
        });
    }

    [TestCase("INSERT INTO t (name, size) VALUES ($0, $2)", 2, "$1")]
    [TestCase("INSERT INTO t (name) VALUES ($0)", 2, "1 parameters, not 2")]
    [TestCase("INSERT INTO t (name) VALUES ($0); DELETE FROM t", 1, "one statement")]
    public void A_statement_whose_parameters_are_not_0_to_n_is_refused_when_prepared(string sql, int count, string said)
    {
        var error = Assert.Throws<ArgumentException>(() => Prepare(sql, count));

        Assert.That(error!.Message, Does.Contain(said));
    }

    [Test]
    public void A_value_of_an_unknown_type_is_refused_by_name()
    {
        using var insert = Prepare("INSERT INTO t (size) VALUES ($0)", 1);

        var error = Assert.Throws<ArgumentException>(() => insert.Bind([1.5]));

        Assert.That(error!.Message, Does.Contain("Double"));
    }
}
