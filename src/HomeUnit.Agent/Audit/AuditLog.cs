using System.Text.Json;
using HomeUnit.Agent.State;
using HomeUnit.Protocol;

namespace HomeUnit.Agent.Audit;

/// <summary>
/// The hash-chained audit log. <see cref="Append"/> returns only once the record and its outbox
/// entry are committed with <c>synchronous=FULL</c>: a caller that gets no exception holds a
/// durable record, and one that gets an exception must not start the camera (fail closed).
/// </summary>
public sealed class AuditLog(StateDatabase database, string deviceId, TimeProvider clock)
{
    private readonly object gate = new();

    /// <summary>An event to commit together with an audit record: both are stored, or neither.</summary>
    public sealed record AlongEvent(Events Events, EventType Type, Severity Severity, object? Data);

    /// <summary>
    /// Seals <paramref name="draft"/> onto the chain and stores it with its outbox entry, in a transaction of
    /// its own (with <paramref name="along"/>'s event, in the same transaction).
    /// </summary>
    public AuditRecord Append(AuditRecord draft, AlongEvent? along = null)
    {
        DeviceEvent? raised = null;
        AuditRecord record;
        lock (gate)
        {
            record = database.Write(t =>
            {
                var sealedRecord = Append(draft, t);
                raised = along?.Events.Stage(t, along.Type, along.Severity, along.Data);
                return sealedRecord;
            });
        }
        if (raised is not null)
        {
            along!.Events.Announce(raised);
        }
        return record;
    }

    /// <summary>
    /// Seals <paramref name="draft"/> onto the chain in the caller's <paramref name="transaction"/>, so the
    /// record commits (or not) together with what it records.
    /// </summary>
    public AuditRecord Append(AuditRecord draft, StateTransaction transaction)
    {
        lock (gate)
        {
            var (lastSeq, lastHash) = Last(transaction);
            var record = AuditChain.Seal(
                draft with { Device = deviceId, At = draft.At.Length > 0 ? draft.At : Wire.Time(clock.GetUtcNow()) },
                lastSeq + 1,
                lastHash);
            var json = JsonSerializer.Serialize(record, Wire.Json);
            transaction.Execute("INSERT INTO audit (seq, type, grant_id, record) VALUES ($seq, $type, $grant, $record)",
                ("$seq", record.Seq), ("$type", record.Type.Code()), ("$grant", record.Grant), ("$record", json));
            transaction.Enqueue(Topics.Audit, record.Hash!, json);
            return record;
        }
    }

    private static (long Seq, string Hash) Last(StateTransaction transaction) =>
        transaction.Scalar("SELECT record FROM audit ORDER BY seq DESC LIMIT 1") is string json
            ? JsonSerializer.Deserialize<AuditRecord>(json, Wire.Json) is { } last ? (last.Seq, last.Hash ?? "") : (0, AuditChain.Genesis)
            : (0, AuditChain.Genesis);

    /// <summary>All records in chain order (as stored: an edited row shows up in <see cref="AuditChain.Verify"/>).</summary>
    public IReadOnlyList<AuditRecord> List() => Records("SELECT record FROM audit ORDER BY seq");

    /// <summary>
    /// Looks that were accepted but never ended: the agent died during them. Their accepted (or
    /// started) record is the crash marker, written durably before the camera could start.
    /// </summary>
    public IReadOnlyList<AuditRecord> OpenSessions() => Records("""
        SELECT a.record FROM audit a
        WHERE a.type = $accepted
          AND NOT EXISTS (SELECT 1 FROM audit e WHERE e.grant_id = a.grant_id AND e.seq > a.seq
                          AND e.type IN ($ended, $aborted))
        ORDER BY a.seq
        """,
        ("$accepted", AuditType.SessionAccepted.Code()), ("$ended", AuditType.SessionEnded.Code()), ("$aborted", AuditType.SessionAborted.Code()));

    /// <summary>The <c>session.accepted</c> records written at or after <paramref name="since"/>, in order (for the care plan's follow-up rules).</summary>
    public IReadOnlyList<AuditRecord> AcceptedSince(DateTimeOffset since) => Records(
        "SELECT record FROM audit WHERE type = $accepted AND json_extract(record, '$.at') >= $since ORDER BY seq",
        ("$accepted", AuditType.SessionAccepted.Code()), ("$since", Wire.Time(since)));

    /// <summary>Every record written at or after <paramref name="since"/>, in chain order.</summary>
    public IReadOnlyList<AuditRecord> Since(DateTimeOffset since) => Records(
        "SELECT record FROM audit WHERE json_extract(record, '$.at') >= $since ORDER BY seq", ("$since", Wire.Time(since)));

    /// <summary>The records of <paramref name="types"/>, in chain order.</summary>
    public IReadOnlyList<AuditRecord> OfTypes(params AuditType[] types) => Records(
        $"SELECT record FROM audit WHERE type IN ({string.Join(", ", types.Select((_, i) => $"$t{i}"))}) ORDER BY seq",
        [.. types.Select((t, i) => ($"$t{i}", (object?)t.Code()))]);

    /// <summary>The started record of a look, if capture began.</summary>
    public AuditRecord? StartedRecord(string grantId) => Records(
        "SELECT record FROM audit WHERE grant_id = $grant AND type = $started ORDER BY seq DESC LIMIT 1",
        ("$grant", grantId), ("$started", AuditType.SessionStarted.Code())).SingleOrDefault();

    private List<AuditRecord> Records(string sql, params (string Name, object? Value)[] parameters) => database.Read(connection =>
    {
        using var command = StateDatabase.Command(connection, sql, parameters);
        using var reader = command.ExecuteReader();
        var records = new List<AuditRecord>();
        while (reader.Read())
        {
            records.Add(JsonSerializer.Deserialize<AuditRecord>(reader.GetString(0), Wire.Json)!);
        }
        return records;
    });
}
