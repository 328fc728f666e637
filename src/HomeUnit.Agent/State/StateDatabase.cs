using Microsoft.Data.Sqlite;

namespace HomeUnit.Agent.State;

/// <summary>
/// The device's durable state: one SQLite file (<c>homeunit.db</c>) in WAL mode with
/// <c>synchronous=FULL</c>, so a committed audit record or outbox entry survives a power cut.
/// Audit records and their outbox entries share it, so both are written in one transaction.
/// </summary>
public sealed class StateDatabase
{
    public StateDatabase(string directory)
    {
        Directory.CreateDirectory(directory);
        Path = System.IO.Path.Combine(directory, "homeunit.db");
        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Pooling = false,
            DefaultTimeout = 5,
        }.ToString();
        using var connection = Open();
        Execute(connection, "PRAGMA journal_mode=WAL;");
    }

    public string Path { get; }

    private string ConnectionString { get; }

    /// <summary>Opens a connection with the durability settings every writer must use.</summary>
    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        Execute(connection, "PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;");
        return connection;
    }

    public static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
