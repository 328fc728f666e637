using HomeUnit.Agent.Audit;
using HomeUnit.Protocol;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Grants;

/// <summary>
/// Writes refusal audit records (<c>session.refused</c>, <c>careplan.refused</c>), at most
/// <see cref="PerWindow"/> per type and reason each minute; the rest of that minute become one record
/// with their <c>count</c>, so a flood of junk cannot fill the device or the central's log.
/// That summary is written by the next refusal after the minute or by <see cref="Flush"/>, which the
/// host calls periodically.
/// </summary>
public sealed class RefusalAudit(AuditLog audit, TimeProvider clock, ILogger<RefusalAudit> log)
{
    public const int PerWindow = 10;
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private sealed class Tally(DateTimeOffset start)
    {
        public DateTimeOffset Start { get; } = start;
        public int Written { get; set; }
        public long Suppressed { get; set; }
    }

    private readonly Dictionary<(AuditType Type, RefusalReason Reason), Tally> tallies = [];
    private readonly Lock gate = new();

    /// <summary>Audits a refusal for <paramref name="reason"/> described by <paramref name="draft"/> (its type set), or counts it once the minute's budget is spent.</summary>
    public void Refuse(RefusalReason reason, AuditRecord draft)
    {
        draft = draft with { Reason = reason.Code() };
        lock (gate)
        {
            var now = clock.GetUtcNow();
            FlushEnded(now);
            var key = (draft.Type, reason);
            if (!tallies.TryGetValue(key, out var tally))
            {
                tallies[key] = tally = new Tally(now);
            }
            if (tally.Written >= PerWindow)
            {
                tally.Suppressed++;
                return;
            }
            tally.Written++;
            log.LogInformation("{Type}: {Reason} (grant {Grant}, version {Version})", draft.Type.Code(), draft.Reason, draft.Grant ?? "-", draft.Version?.ToString() ?? "-");
            Write(draft);
        }
    }

    /// <summary>Writes the summary of every minute that has ended with refusals left uncounted.</summary>
    public void Flush()
    {
        lock (gate)
        {
            FlushEnded(clock.GetUtcNow());
        }
    }

    private void FlushEnded(DateTimeOffset now)
    {
        foreach (var (key, tally) in tallies.Where(t => now >= t.Value.Start + Window).ToList())
        {
            tallies.Remove(key);
            if (tally.Suppressed > 0)
            {
                log.LogWarning("{Type}: {Reason} {Count} more times in a minute", key.Type.Code(), key.Reason.Code(), tally.Suppressed);
                Write(new AuditRecord { Type = key.Type, Reason = key.Reason.Code(), Count = tally.Suppressed });
            }
        }
    }

    private void Write(AuditRecord draft)
    {
        try
        {
            audit.Append(draft);
        }
        catch (SqliteException e)
        {
            // The refusal stands either way; the missing record is itself worth an error line.
            log.LogError("refusal audit record could not be written: SQLite error {Code}", e.SqliteErrorCode);
        }
    }
}
