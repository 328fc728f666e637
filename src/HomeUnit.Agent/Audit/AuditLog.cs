using System.Text.Json;
using HomeUnit.Agent.Link;
using HomeUnit.Agent.State;
using HomeUnit.Protocol;
using Microsoft.Data.Sqlite;

namespace HomeUnit.Agent.Audit;

/// <summary>
/// The hash-chained audit log. <see cref="Append"/> returns only once the record and its outbox
/// entry are committed with <c>synchronous=FULL</c>: a caller that gets no exception holds a
/// durable record, and one that gets an exception must not start the camera (fail closed).
/// </summary>
public sealed class AuditLog
{
    private readonly StateDatabase database;
    private readonly Outbox outbox;
    private readonly string deviceId;
    private readonly TimeProvider clock;
    private readonly object gate = new();

    public AuditLog(StateDatabase database, Outbox outbox, string deviceId, TimeProvider clock)
    {
        this.database = database;
        this.outbox = outbox;
        this.deviceId = deviceId;
        this.clock = clock;
        using var connection = database.Open();
        StateDatabase.Execute(connection, """
            CREATE TABLE IF NOT EXISTS audit (
                seq INTEGER PRIMARY KEY,
                type TEXT NOT NULL,
                grant_id TEXT,
                record TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS audit_grant ON audit (grant_id);
            """);
    }

    /// <summary>An event to commit together with an audit record: both are stored, or neither.</summary>
    public sealed record AlongEvent(Events Events, string Type, string Severity, object? Data);

    /// <summary>Seals <paramref name="draft"/> onto the chain and stores it with its outbox entry (and <paramref name="along"/>'s event, in the same transaction).</summary>
    public AuditRecord Append(AuditRecord draft, AlongEvent? along = null)
    {
        DeviceEvent? raised = null;
        AuditRecord sealedRecord;
        lock (gate)
        {
            using var connection = database.Open();
            using var transaction = connection.BeginTransaction();
            var (lastSeq, lastHash) = Last(connection, transaction);
            var record = AuditChain.Seal(
                draft with { Device = deviceId, At = draft.At.Length > 0 ? draft.At : Wire.Time(clock.GetUtcNow()) },
                lastSeq + 1,
                lastHash);
            var json = JsonSerializer.Serialize(record, Wire.Json);
            using (var insert = connection.CreateCommand())
            {
                insert.Transaction = transaction;
                insert.CommandText = "INSERT INTO audit (seq, type, grant_id, record) VALUES ($seq, $type, $grant, $record)";
                insert.Parameters.AddWithValue("$seq", record.Seq);
                insert.Parameters.AddWithValue("$type", record.Type);
                insert.Parameters.AddWithValue("$grant", (object?)record.Grant ?? DBNull.Value);
                insert.Parameters.AddWithValue("$record", json);
                insert.ExecuteNonQuery();
            }
            outbox.Enqueue(Topics.Audit, record.Hash!, json, transaction);
            if (along is not null)
            {
                raised = along.Events.Stage(connection, transaction, along.Type, along.Severity, along.Data);
            }
            transaction.Commit();
            outbox.Committed();
            sealedRecord = record;
        }
        if (raised is not null)
        {
            along!.Events.Announce(raised);
        }
        return sealedRecord;
    }

    private static (long Seq, string Hash) Last(SqliteConnection connection, SqliteTransaction transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT record FROM audit ORDER BY seq DESC LIMIT 1";
        return command.ExecuteScalar() is string json
            ? JsonSerializer.Deserialize<AuditRecord>(json, Wire.Json) is { } last ? (last.Seq, last.Hash ?? "") : (0, AuditChain.Genesis)
            : (0, AuditChain.Genesis);
    }

    /// <summary>All records in chain order (as stored: an edited row shows up in <see cref="AuditChain.Verify"/>).</summary>
    public IReadOnlyList<AuditRecord> List() => Query("SELECT record FROM audit ORDER BY seq");

    /// <summary>
    /// Looks that were accepted but never ended: the agent died during them. Their accepted (or
    /// started) record is the crash marker, written durably before the camera could start.
    /// </summary>
    public IReadOnlyList<AuditRecord> OpenSessions() => Query("""
        SELECT a.record FROM audit a
        WHERE a.type = 'session.accepted'
          AND NOT EXISTS (SELECT 1 FROM audit e WHERE e.grant_id = a.grant_id AND e.seq > a.seq
                          AND e.type IN ('session.ended', 'session.aborted'))
        ORDER BY a.seq
        """);

    /// <summary>The <c>session.accepted</c> records written at or after <paramref name="since"/>, in order (for the care plan's follow-up rules).</summary>
    public IReadOnlyList<AuditRecord> AcceptedSince(DateTimeOffset since) => Query(
        "SELECT record FROM audit WHERE type = 'session.accepted' AND json_extract(record, '$.at') >= $since ORDER BY seq", ("$since", Wire.Time(since)));

    /// <summary>Every record written at or after <paramref name="since"/>, in chain order.</summary>
    public IReadOnlyList<AuditRecord> Since(DateTimeOffset since) => Query(
        "SELECT record FROM audit WHERE json_extract(record, '$.at') >= $since ORDER BY seq", ("$since", Wire.Time(since)));

    /// <summary>The records of <paramref name="types"/>, in chain order.</summary>
    public IReadOnlyList<AuditRecord> OfTypes(params string[] types) => Query(
        $"SELECT record FROM audit WHERE type IN ({string.Join(", ", types.Select((_, i) => $"$t{i}"))}) ORDER BY seq",
        [.. types.Select((t, i) => ($"$t{i}", t))]);

    private List<AuditRecord> Query(string sql, params (string Name, string Value)[] parameters)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        using var reader = command.ExecuteReader();
        var records = new List<AuditRecord>();
        while (reader.Read())
        {
            records.Add(JsonSerializer.Deserialize<AuditRecord>(reader.GetString(0), Wire.Json)!);
        }
        return records;
    }

    /// <summary>The started record of a look, if capture began.</summary>
    public AuditRecord? StartedRecord(string grantId)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT record FROM audit WHERE grant_id = $g AND type = 'session.started' ORDER BY seq DESC LIMIT 1";
        command.Parameters.AddWithValue("$g", grantId);
        return command.ExecuteScalar() is string json ? JsonSerializer.Deserialize<AuditRecord>(json, Wire.Json) : null;
    }
}
