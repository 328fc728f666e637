using Microsoft.Data.Sqlite;

namespace HomeUnit.Agent.State;

/// <summary>
/// The device's durable state: one SQLite file (<c>homeunit.db</c>) in WAL mode with
/// <c>synchronous=FULL</c>, so a committed audit record or outbox entry survives a power cut. It owns
/// the schema (<see cref="Schema"/>: migrated at open; a newer one is refused untouched) and every
/// write goes through <see cref="Write"/>, one explicit transaction. The outbox's rows are written here
/// too (<see cref="StateTransaction.Enqueue"/>), so a record and its outbox entry commit together.
/// </summary>
public sealed class StateDatabase
{
    public const string FileName = "homeunit.db";
    public const int DefaultOutboxCapacity = 10_000;

    public StateDatabase(string directory, int outboxCapacity = DefaultOutboxCapacity)
    {
        Directory.CreateDirectory(directory);
        Path = System.IO.Path.Combine(directory, FileName);
        OutboxCapacity = outboxCapacity;
        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Pooling = false,
            DefaultTimeout = 5,
        }.ToString();
        RefuseNewerSchema();
        using var connection = Open();
        Execute(connection, "PRAGMA journal_mode=WAL;");
        Migrate(connection);
    }

    public string Path { get; }

    /// <summary>How many outbox entries are kept; beyond it the oldest are dropped and counted.</summary>
    public int OutboxCapacity { get; }

    /// <summary>Raised after a transaction that enqueued outbox entries committed (true if some were dropped for room).</summary>
    public event Action<bool>? OutboxCommitted;

    private string ConnectionString { get; }

    /// <summary>The schema version stored in the file.</summary>
    public int StoredVersion()
    {
        using var connection = Open();
        return UserVersion(connection, null);
    }

    /// <summary>Opens a connection with the durability settings every writer must use.</summary>
    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        Execute(connection, "PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;");
        return connection;
    }

    /// <summary>Reads on a connection of its own.</summary>
    public T Read<T>(Func<SqliteConnection, T> read)
    {
        using var connection = Open();
        return read(connection);
    }

    /// <summary>
    /// One explicit transaction: committed when <paramref name="write"/> returns (durable with
    /// <c>synchronous=FULL</c>), rolled back if it throws. <paramref name="sync"/> false skips the fsync,
    /// for writes a power cut may undo harmlessly (WAL keeps them atomic; the next synced commit syncs them).
    /// </summary>
    public T Write<T>(Func<StateTransaction, T> write, bool sync = true)
    {
        using var connection = Open();
        if (!sync)
        {
            Execute(connection, "PRAGMA synchronous=NORMAL;");
        }
        using var transaction = connection.BeginTransaction();
        var state = new StateTransaction(transaction, OutboxCapacity);
        var result = write(state);
        transaction.Commit();
        if (state.Enqueued)
        {
            OutboxCommitted?.Invoke(state.Dropped > 0);
        }
        return result;
    }

    public void Write(Action<StateTransaction> write, bool sync = true) => Write(t => { write(t); return true; }, sync);

    /// <summary>A read command on <paramref name="connection"/> with <paramref name="parameters"/> bound by name.</summary>
    public static SqliteCommand Command(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        return command;
    }

    public static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// A file written by a newer release may hold tables and meanings this one does not know: it is
    /// refused before anything (not even the journal mode) is written to it.
    /// </summary>
    private void RefuseNewerSchema()
    {
        if (!File.Exists(Path))
        {
            return;
        }
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
        }.ToString());
        connection.Open();
        var stored = UserVersion(connection, null);
        if (stored > Schema.Version)
        {
            throw new StateSchemaException(
                $"the state database {Path} has schema version {stored}, newer than version {Schema.Version} of this release: " +
                "it was written by a newer agent. It was not opened and nothing in it was changed; run that release again.");
        }
    }

    /// <summary>Applies the missing migrations in order, and the new version, in one transaction.</summary>
    private static void Migrate(SqliteConnection connection)
    {
        using var transaction = connection.BeginTransaction();
        var stored = UserVersion(connection, transaction);
        if (stored > Schema.Version)
        {
            throw new StateSchemaException($"the state database has schema version {stored}, newer than version {Schema.Version} of this release");
        }
        for (var version = stored; version < Schema.Version; version++)
        {
            Execute(connection, Schema.Migrations[version].Sql, transaction);
        }
        if (stored < Schema.Version)
        {
            Execute(connection, $"PRAGMA user_version = {Schema.Version};", transaction);
        }
        transaction.Commit();
    }

    private static int UserVersion(SqliteConnection connection, SqliteTransaction? transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "PRAGMA user_version;";
        return Convert.ToInt32(command.ExecuteScalar());
    }
}

/// <summary>The work of one <see cref="StateDatabase.Write"/>: commands in its transaction, and outbox entries.</summary>
public sealed class StateTransaction
{
    private readonly SqliteTransaction transaction;
    private readonly int outboxCapacity;

    internal StateTransaction(SqliteTransaction transaction, int outboxCapacity)
    {
        this.transaction = transaction;
        this.outboxCapacity = outboxCapacity;
    }

    internal bool Enqueued { get; private set; }

    internal long Dropped { get; private set; }

    /// <summary>A command in this transaction with <paramref name="parameters"/> bound by name.</summary>
    public SqliteCommand Command(string sql, params (string Name, object? Value)[] parameters)
    {
        var command = transaction.Connection!.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        return command;
    }

    public int Execute(string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(sql, parameters);
        return command.ExecuteNonQuery();
    }

    public object? Scalar(string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(sql, parameters);
        return command.ExecuteScalar();
    }

    /// <summary>
    /// Stores an outbox entry (topic below the device prefix, unique id, payload), durable when this
    /// transaction commits. Over capacity the oldest entries are dropped and counted, so the loss is
    /// reported rather than silent.
    /// </summary>
    public void Enqueue(string topic, string id, string payload)
    {
        Execute("INSERT INTO outbox (topic, id, payload) VALUES ($topic, $id, $payload)", ("$topic", topic), ("$id", id), ("$payload", payload));
        var dropped = Execute("""
            WITH excess AS (SELECT seq FROM outbox ORDER BY seq LIMIT max(0, (SELECT count(*) FROM outbox) - $capacity))
            DELETE FROM outbox WHERE seq IN excess;
            """, ("$capacity", outboxCapacity));
        if (dropped > 0)
        {
            Execute("""
                INSERT INTO outbox_dropped (id, count) VALUES (1, $n)
                ON CONFLICT (id) DO UPDATE SET count = count + $n;
                """, ("$n", dropped));
            Dropped += dropped;
        }
        Enqueued = true;
    }
}
