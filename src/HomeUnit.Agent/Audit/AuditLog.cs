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

    /// <summary>Seals <paramref name="draft"/> onto the chain and stores it with its outbox entry.</summary>
    public AuditRecord Append(AuditRecord draft)
    {
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
                insert.Parameters.AddWithValue("$type", record.Type.Code());
                insert.Parameters.AddWithValue("$grant", (object?)record.Grant ?? DBNull.Value);
                insert.Parameters.AddWithValue("$record", json);
                insert.ExecuteNonQuery();
            }
            outbox.Enqueue(Topics.Audit, record.Hash!, json, transaction);
            transaction.Commit();
            outbox.Committed();
            return record;
        }
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
    public IReadOnlyList<AuditRecord> List()
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT record FROM audit ORDER BY seq";
        using var reader = command.ExecuteReader();
        var records = new List<AuditRecord>();
        while (reader.Read())
        {
            records.Add(JsonSerializer.Deserialize<AuditRecord>(reader.GetString(0), Wire.Json)!);
        }
        return records;
    }

    /// <summary>
    /// Looks that were accepted but never ended: the agent died during them. Their accepted (or
    /// started) record is the crash marker, written durably before the camera could start.
    /// </summary>
    public IReadOnlyList<AuditRecord> OpenSessions()
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT a.record FROM audit a
            WHERE a.type = $accepted
              AND NOT EXISTS (SELECT 1 FROM audit e WHERE e.grant_id = a.grant_id AND e.seq > a.seq
                              AND e.type IN ($ended, $aborted))
            ORDER BY a.seq
            """;
        command.Parameters.AddWithValue("$accepted", AuditType.SessionAccepted.Code());
        command.Parameters.AddWithValue("$ended", AuditType.SessionEnded.Code());
        command.Parameters.AddWithValue("$aborted", AuditType.SessionAborted.Code());
        using var reader = command.ExecuteReader();
        var open = new List<AuditRecord>();
        while (reader.Read())
        {
            open.Add(JsonSerializer.Deserialize<AuditRecord>(reader.GetString(0), Wire.Json)!);
        }
        return open;
    }

    /// <summary>The <c>session.accepted</c> records written at or after <paramref name="since"/>, in order (for the care plan's follow-up rules).</summary>
    public IReadOnlyList<AuditRecord> AcceptedSince(DateTimeOffset since)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT record FROM audit WHERE type = $accepted AND json_extract(record, '$.at') >= $since ORDER BY seq";
        command.Parameters.AddWithValue("$accepted", AuditType.SessionAccepted.Code());
        command.Parameters.AddWithValue("$since", Wire.Time(since));
        using var reader = command.ExecuteReader();
        var accepted = new List<AuditRecord>();
        while (reader.Read())
        {
            accepted.Add(JsonSerializer.Deserialize<AuditRecord>(reader.GetString(0), Wire.Json)!);
        }
        return accepted;
    }

    /// <summary>The started record of a look, if capture began.</summary>
    public AuditRecord? StartedRecord(string grantId)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT record FROM audit WHERE grant_id = $g AND type = $started ORDER BY seq DESC LIMIT 1";
        command.Parameters.AddWithValue("$started", AuditType.SessionStarted.Code());
        command.Parameters.AddWithValue("$g", grantId);
        return command.ExecuteScalar() is string json ? JsonSerializer.Deserialize<AuditRecord>(json, Wire.Json) : null;
    }
}
