using HomeUnit.Agent.Audit;
using HomeUnit.Agent.State;
using HomeUnit.Protocol;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Grants;

/// <summary>The central in charge of this unit's looks, since when, and until when if the handover has an end.</summary>
public sealed record InCharge(TrustedCentral Central, DateTimeOffset Since, DateTimeOffset? Until);

/// <summary>
/// Which trusted central is in charge. The primary is, unless it has handed supervision to a standby
/// (a <c>handover</c> command or a care plan naming the <c>activeCentral</c>, both signed by the
/// primary); it takes it back the same way, or the handover's end time passes. Only the central in
/// charge may open looks, send commands and send care plans; the primary may always hand over or take
/// back. Each change is an audit record (<c>handover.started</c> / <c>handover.ended</c>, durable before
/// the change takes effect) and an event, and is kept in the state database across restarts.
/// </summary>
public sealed class Supervision
{
    private readonly StateDatabase database;
    private readonly TrustedKeys keys;
    private readonly AuditLog audit;
    private readonly Events events;
    private readonly TimeProvider clock;
    private readonly ILogger<Supervision> log;
    private readonly Lock gate = new();
    private InCharge stored;

    public Supervision(StateDatabase database, TrustedKeys keys, AuditLog audit, Events events, TimeProvider clock, ILogger<Supervision> log)
    {
        this.database = database;
        this.keys = keys;
        this.audit = audit;
        this.events = events;
        this.clock = clock;
        this.log = log;
        stored = Load();
    }

    /// <summary>Raised after the central in charge changed (for the retained status).</summary>
    public event Action? Changed;

    /// <summary>The central in charge now: a handover whose end has passed is already over.</summary>
    public InCharge Current
    {
        get
        {
            var current = Volatile.Read(ref stored);
            return current.Until is { } until && clock.GetUtcNow() >= until ? PrimaryFrom(until) : current;
        }
    }

    /// <summary>Null when <paramref name="issuer"/> is in charge, else why its grant, command or care plan is refused.</summary>
    public RefusalReason? Refusal(string issuer)
    {
        if (Current.Central.Issuer == issuer)
        {
            return null;
        }
        return keys.Central(issuer) is { IsPrimary: true } ? RefusalReason.PrimaryNotActive : RefusalReason.StandbyNotActive;
    }

    /// <summary>Null when <paramref name="by"/> may put <paramref name="to"/> in charge: only the primary hands over, and only to a trusted central.</summary>
    public RefusalReason? HandoverRefusal(string by, string to) =>
        keys.Central(by) is not { IsPrimary: true } ? RefusalReason.NotPrimary
        : keys.Central(to) is null ? RefusalReason.UnknownCentral
        : null;

    /// <summary>
    /// Whether a care plan from <paramref name="issuer"/> may be applied: from the central in charge, or
    /// from the primary when it names the <paramref name="activeCentral"/> (a handover or taking back).
    /// </summary>
    public RefusalReason? CarePlanRefusal(string issuer, string? activeCentral)
    {
        if (activeCentral is null || activeCentral == issuer && keys.Central(issuer) is { IsPrimary: false })
        {
            return Refusal(issuer);
        }
        return HandoverRefusal(issuer, activeCentral);
    }

    /// <summary>
    /// Puts <paramref name="to"/> in charge (the primary: takes supervision back), on the word of the
    /// primary <paramref name="by"/>. Anyone else's word (<see cref="HandoverRefusal"/>) changes nothing:
    /// a standby's own plan naming itself neither stretches nor ends its time in charge. An end time that
    /// has already passed changes nothing. The audit record is durable before the change takes effect.
    /// </summary>
    /// <exception cref="SqliteException">Storage failed; nothing changed.</exception>
    public void HandOver(string by, string to, DateTimeOffset? until, string via, long? version = null)
    {
        if (HandoverRefusal(by, to) is { } refusal)
        {
            log.LogWarning("handover to {Central} from {By} not carried out: {Reason}", to, by, refusal.Code());
            return;
        }
        var now = clock.GetUtcNow();
        var target = keys.Central(to)!;
        if (target.IsPrimary)
        {
            until = null;
        }
        else if (until is { } end && end <= now)
        {
            log.LogWarning("handover to {Central} ignored: its end time {Until} has passed", to, Wire.Time(end));
            return;
        }
        lock (gate)
        {
            var current = Current;
            if (current.Central.Issuer == to && current.Until == until)
            {
                return;
            }
            if (!current.Central.IsPrimary && (current.Central.Issuer != to || target.IsPrimary))
            {
                End(current, target.IsPrimary ? HandoverEndReason.TakenBack : HandoverEndReason.HandedOn, by, version);
            }
            if (!target.IsPrimary)
            {
                audit.Append(new AuditRecord
                {
                    Type = AuditType.HandoverStarted,
                    Issuer = by,
                    Central = to,
                    Until = until is { } u ? Wire.Time(u) : null,
                    Version = version,
                });
            }
            Store(new InCharge(target, now, until));
            if (!target.IsPrimary)
            {
                Report(EventType.HandoverStarted, Severity.Warning, new { central = to, from = current.Central.Issuer, until = until is { } u ? Wire.Time(u) : null, by, via });
            }
            log.LogWarning("supervision: {Central} is in charge ({Via} from {By}{Until})", to, via, by, until is { } e ? $", until {Wire.Time(e)}" : "");
        }
        Changed?.Invoke();
    }

    /// <summary>Ends a handover whose end time has passed, with its record and event (the host calls this regularly).</summary>
    public void EndIfExpired()
    {
        lock (gate)
        {
            var current = Volatile.Read(ref stored);
            if (current.Until is not { } until || clock.GetUtcNow() < until)
            {
                return;
            }
            End(current, HandoverEndReason.Expired, by: null, version: null);
            Store(PrimaryFrom(until));
        }
        Changed?.Invoke();
    }

    private void End(InCharge standby, HandoverEndReason reason, string? by, long? version)
    {
        audit.Append(new AuditRecord { Type = AuditType.HandoverEnded, Central = standby.Central.Issuer, Issuer = by, Reason = reason.Code(), Version = version });
        Report(EventType.HandoverEnded, reason == HandoverEndReason.HandedOn ? Severity.Info : Severity.Warning,
            new { central = standby.Central.Issuer, reason = reason.Code(), by, since = Wire.Time(standby.Since) });
    }

    private InCharge PrimaryFrom(DateTimeOffset since) => new(keys.Primary, since, null);

    private void Store(InCharge next)
    {
        database.Write(t => t.Execute("""
            INSERT INTO supervision (id, issuer, since, until) VALUES (1, $issuer, $since, $until)
            ON CONFLICT (id) DO UPDATE SET issuer = excluded.issuer, since = excluded.since, until = excluded.until
            """, ("$issuer", next.Central.Issuer), ("$since", next.Since.ToUnixTimeMilliseconds()), ("$until", next.Until?.ToUnixTimeMilliseconds())));
        Volatile.Write(ref stored, next);
    }

    /// <summary>The stored state; a central no longer trusted (the configuration changed) leaves the primary in charge.</summary>
    private InCharge Load() => database.Read(connection =>
    {
        using var command = StateDatabase.Command(connection, "SELECT issuer, since, until FROM supervision WHERE id = 1");
        using var reader = command.ExecuteReader();
        if (reader.Read() && keys.Central(reader.GetString(0)) is { } central)
        {
            return new InCharge(central, DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)),
                reader.IsDBNull(2) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)));
        }
        return PrimaryFrom(DateTimeOffset.UnixEpoch);
    });

    private void Report(EventType type, Severity severity, object data)
    {
        try
        {
            events.Raise(type, severity, data);
        }
        catch (SqliteException e)
        {
            // The audit record is durable; the event is the centre's convenience.
            log.LogError("event {Type} could not be stored: {Error}", type.Code(), e.Message);
        }
    }
}
