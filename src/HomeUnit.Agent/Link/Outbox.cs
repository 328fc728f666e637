using HomeUnit.Agent.State;
using Microsoft.Data.Sqlite;

namespace HomeUnit.Agent.Link;

/// <summary>One record waiting to be published: its order, topic (below the device prefix), unique id and payload.</summary>
public sealed record OutboxItem(long Seq, string Topic, string Id, string Payload);

/// <summary>
/// Everything the device sends is stored here first, published only while connected, in order,
/// and removed only when the broker acknowledges it (PUBACK). Bounded: when full, the oldest
/// records are dropped and the loss itself is reported. The rows live in the state database, which
/// writes them (<see cref="StateTransaction.Enqueue"/>) in the same transaction as the record they carry.
/// </summary>
public sealed class Outbox
{
    private readonly StateDatabase database;
    private readonly SemaphoreSlim added = new(0);
    /// <summary>Set when records may have been dropped (and at start, for drops by an earlier run), so idle checks cost nothing.</summary>
    private volatile bool mayHaveDropped = true;

    public Outbox(StateDatabase database)
    {
        this.database = database;
        // The drain wakes only once records are committed, so it never wakes before it can see them.
        database.OutboxCommitted += dropped =>
        {
            if (dropped)
            {
                mayHaveDropped = true;
            }
            added.Release();
        };
    }

    /// <summary>Stores a record on its own; it is durable when this returns.</summary>
    public void Enqueue(string topic, string id, string payload) => database.Write(t => t.Enqueue(topic, id, payload));

    /// <summary>The oldest records after <paramref name="after"/> (a seq already being sent), in order.</summary>
    public IReadOnlyList<OutboxItem> Peek(int max, long after = 0) => database.Read(connection =>
    {
        using var command = StateDatabase.Command(connection,
            "SELECT seq, topic, id, payload FROM outbox WHERE seq > $after ORDER BY seq LIMIT $max", ("$after", after), ("$max", max));
        using var reader = command.ExecuteReader();
        var items = new List<OutboxItem>();
        while (reader.Read())
        {
            items.Add(new OutboxItem(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
        }
        return items;
    });

    /// <summary>Removes records once the broker has acknowledged them, in one transaction.</summary>
    public void Remove(IReadOnlyCollection<long> seqs) =>
        // No fsync for a removal: if a power cut undoes it, the record is sent again and the
        // central drops the duplicate by id.
        database.Write(t =>
        {
            using var command = t.Command("DELETE FROM outbox WHERE seq = $seq");
            var seq = command.Parameters.Add("$seq", SqliteType.Integer);
            foreach (var value in seqs)
            {
                seq.Value = value;
                command.ExecuteNonQuery();
            }
        }, sync: false);

    public long Count() => database.Read(connection =>
    {
        using var command = StateDatabase.Command(connection, "SELECT count(*) FROM outbox");
        return (long)command.ExecuteScalar()!;
    });

    /// <summary>Takes the count of records dropped for lack of room since the last call (0 if none).</summary>
    public long TakeDroppedCount()
    {
        if (!mayHaveDropped)
        {
            return 0;
        }
        // Cleared before reading: a drop committed meanwhile sets it again and is taken next time.
        mayHaveDropped = false;
        return database.Write(t =>
        {
            var dropped = t.Scalar("SELECT count FROM outbox_dropped WHERE id = 1") as long? ?? 0;
            t.Execute("DELETE FROM outbox_dropped");
            return dropped;
        });
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
