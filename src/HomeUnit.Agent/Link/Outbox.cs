using HomeUnit.Agent.State;
using Microsoft.Data.Sqlite;

namespace HomeUnit.Agent.Link;

/// <summary>One record waiting to be published: its order, topic (below the device prefix), unique id and payload.</summary>
public sealed record OutboxItem(long Seq, string Topic, string Id, string Payload);

/// <summary>
/// Everything the device sends is stored here first, published only while connected, in order,
/// and removed only when the broker acknowledges it (PUBACK). Bounded: when full, the oldest
/// records are dropped and the loss itself is reported.
/// </summary>
public sealed class Outbox
{
    private readonly StateDatabase database;
    private readonly int capacity;
    private readonly SemaphoreSlim added = new(0);
    /// <summary>Set when records may have been dropped (and at start, for drops by an earlier run), so idle checks cost nothing.</summary>
    private volatile bool mayHaveDropped = true;

    public Outbox(StateDatabase database, int capacity)
    {
        this.database = database;
        this.capacity = capacity;
        using var connection = database.Open();
        StateDatabase.Execute(connection, """
            CREATE TABLE IF NOT EXISTS outbox (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                topic TEXT NOT NULL,
                id TEXT NOT NULL,
                payload TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS outbox_dropped (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                count INTEGER NOT NULL);
            """);
    }

    /// <summary>
    /// Stores a record; it is durable when this returns. With a <paramref name="transaction"/> it is
    /// durable when that commits, and the caller calls <see cref="Committed"/> then, so the drain never
    /// wakes before the record can be seen.
    /// </summary>
    public void Enqueue(string topic, string id, string payload, SqliteTransaction? transaction = null)
    {
        if (transaction is null)
        {
            using var connection = database.Open();
            using var own = connection.BeginTransaction();
            Insert(connection, own, topic, id, payload);
            own.Commit();
            Committed();
        }
        else
        {
            Insert(transaction.Connection!, transaction, topic, id, payload);
        }
    }

    /// <summary>Wakes the drain: records enqueued in a caller's transaction are now committed.</summary>
    public void Committed() => added.Release();

    private void Insert(SqliteConnection connection, SqliteTransaction transaction, string topic, string id, string payload)
    {
        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = "INSERT INTO outbox (topic, id, payload) VALUES ($topic, $id, $payload)";
        insert.Parameters.AddWithValue("$topic", topic);
        insert.Parameters.AddWithValue("$id", id);
        insert.Parameters.AddWithValue("$payload", payload);
        insert.ExecuteNonQuery();

        // Over capacity: drop the oldest and count them, so the loss is reported rather than silent.
        using var trim = connection.CreateCommand();
        trim.Transaction = transaction;
        trim.CommandText = """
            WITH excess AS (SELECT seq FROM outbox ORDER BY seq LIMIT max(0, (SELECT count(*) FROM outbox) - $capacity))
            DELETE FROM outbox WHERE seq IN excess;
            """;
        trim.Parameters.AddWithValue("$capacity", capacity);
        var dropped = trim.ExecuteNonQuery();
        if (dropped > 0)
        {
            mayHaveDropped = true;
            using var count = connection.CreateCommand();
            count.Transaction = transaction;
            count.CommandText = """
                INSERT INTO outbox_dropped (id, count) VALUES (1, $n)
                ON CONFLICT (id) DO UPDATE SET count = count + $n;
                """;
            count.Parameters.AddWithValue("$n", dropped);
            count.ExecuteNonQuery();
        }
    }

    /// <summary>The oldest records after <paramref name="after"/> (a seq already being sent), in order.</summary>
    public IReadOnlyList<OutboxItem> Peek(int max, long after = 0)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT seq, topic, id, payload FROM outbox WHERE seq > $after ORDER BY seq LIMIT $max";
        command.Parameters.AddWithValue("$after", after);
        command.Parameters.AddWithValue("$max", max);
        using var reader = command.ExecuteReader();
        var items = new List<OutboxItem>();
        while (reader.Read())
        {
            items.Add(new OutboxItem(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
        }
        return items;
    }

    /// <summary>Removes records once the broker has acknowledged them, in one transaction.</summary>
    public void Remove(IReadOnlyCollection<long> seqs)
    {
        using var connection = database.Open();
        // No fsync for a removal: if a power cut undoes it, the record is sent again and the
        // central drops the duplicate by id. (WAL keeps it atomic; the next FULL commit syncs it.)
        StateDatabase.Execute(connection, "PRAGMA synchronous=NORMAL;");
        using var transaction = connection.BeginTransaction();
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "DELETE FROM outbox WHERE seq = $seq";
        var seq = command.Parameters.Add("$seq", SqliteType.Integer);
        foreach (var value in seqs)
        {
            seq.Value = value;
            command.ExecuteNonQuery();
        }
        transaction.Commit();
    }

    public long Count()
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM outbox";
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>Takes the count of records dropped for lack of room since the last call (0 if none).</summary>
    public long TakeDroppedCount()
    {
        if (!mayHaveDropped)
        {
            return 0;
        }
        // Cleared before reading: a drop committed meanwhile sets it again and is taken next time.
        mayHaveDropped = false;
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction();
        using var read = connection.CreateCommand();
        read.Transaction = transaction;
        read.CommandText = "SELECT count FROM outbox_dropped WHERE id = 1";
        var dropped = read.ExecuteScalar() as long? ?? 0;
        StateDatabase.Execute(connection, "DELETE FROM outbox_dropped", transaction);
        transaction.Commit();
        return dropped;
    }

    /// <summary>
    /// Waits until something is enqueued and committed (or the timeout passes). One wake-up covers every
    /// record enqueued so far, so a burst does not cause a wake-up per record.
    /// </summary>
    public async Task WaitForWorkAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (await added.WaitAsync(timeout, cancellationToken))
        {
            // The rest of the burst's signals: the caller reads everything queued anyway.
            while (added.Wait(0))
            {
            }
        }
    }
}
