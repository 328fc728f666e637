using System.Globalization;
using System.Text.Json.Serialization;
using HomeUnit.Protocol;

namespace HomeUnit.Agent.Ledger;

/// <summary>A span of time in which the unit was in a condition that keeps a look from happening; <see cref="Until"/> null while it lasts.</summary>
public sealed record ConditionSpan(Condition Condition, DateTimeOffset Since, DateTimeOffset? Until)
{
    public bool Overlaps(DateTimeOffset from, DateTimeOffset to) => Since < to && (Until ?? DateTimeOffset.MaxValue) > from;

    public TimeSpan OverlapWith(DateTimeOffset from, DateTimeOffset to)
    {
        var start = Since > from ? Since : from;
        var end = Until is { } u && u < to ? u : to;
        return end > start ? end - start : TimeSpan.Zero;
    }
}

/// <summary>The kinds of condition the ledger keeps; each code is the one stored in the state database.</summary>
public enum ConditionKind
{
    /// <summary>The link to the central was down: grants could not arrive.</summary>
    [JsonStringEnumMemberName("offline")] Offline = 1, // from 1: a default Condition is none of them
    /// <summary>The agent was not running (a crash, a restart, a power cut without battery).</summary>
    [JsonStringEnumMemberName("agent-not-running")] AgentDown,
    /// <summary>The resident had paused the camera.</summary>
    [JsonStringEnumMemberName("privacy-paused")] PrivacyPaused,
    /// <summary>One of the unit's faults was present.</summary>
    [JsonStringEnumMemberName("fault")] Fault,
}

/// <summary>A condition the ledger keeps: one of its kinds, and for a fault which one.</summary>
public readonly partial record struct Condition
{
    private Condition(ConditionKind kind, string? faultCode = null)
    {
        Kind = kind;
        FaultCode = faultCode;
    }

    public static readonly Condition Offline = new(ConditionKind.Offline);
    public static readonly Condition AgentDown = new(ConditionKind.AgentDown);
    public static readonly Condition PrivacyPaused = new(ConditionKind.PrivacyPaused);

    public static Condition Of(UnitFault fault) => new(ConditionKind.Fault, fault.Code());

    public ConditionKind Kind { get; }

    /// <summary>The fault's code for a fault (kept as stored, so a fault a later release recorded still counts).</summary>
    public string? FaultCode { get; }

    /// <summary>Conditions in which the centre could not reach the unit.</summary>
    public bool IsOffline => Kind is ConditionKind.Offline or ConditionKind.AgentDown;

    /// <summary>As stored: the kind's code, and for a fault <c>fault:&lt;fault&gt;</c>.</summary>
    public string Name => FaultCode is { } fault ? $"{Kind.Code()}:{fault}" : Kind.Code();

    /// <summary>The condition stored as <paramref name="name"/>, or null for a name this release cannot read.</summary>
    public static Condition? FromName(string name)
    {
        var parts = name.Split(':', 2);
        return (Codes.Parse<ConditionKind>(parts[0]), parts.Length == 2 ? parts[1] : null) switch
        {
            (ConditionKind.Fault, { } fault) when FaultCodeShape().IsMatch(fault) => new Condition(ConditionKind.Fault, fault),
            ({ } kind and not ConditionKind.Fault, null) => new Condition(kind),
            _ => null,
        };
    }

    /// <summary>What this condition makes of a missed check (a privacy pause makes it skipped instead, so none).</summary>
    public MissCause? Cause => Kind switch
    {
        ConditionKind.AgentDown => MissCause.AgentNotRunning,
        ConditionKind.Offline => MissCause.Offline,
        ConditionKind.Fault => MissCause.Fault(FaultCode!),
        _ => null,
    };

    [System.Text.RegularExpressions.GeneratedRegex("^[a-z]{1,32}$")]
    private static partial System.Text.RegularExpressions.Regex FaultCodeShape();
}

/// <summary>
/// The ledger's rules, as pure functions of the audit records and the unit's conditions:
/// <list type="bullet">
/// <item><c>check.looked</c>: a scheduled look for the check was accepted inside its window and capture started.</item>
/// <item><c>check.skipped</c>: no look, and the night was paused in the care plan (<c>paused-night</c>) or the
/// resident's privacy pause covered part of the window (<c>privacy-paused</c>).</item>
/// <item><c>check.missed</c>: otherwise. Its causes say what the unit knows: the agent was not running, it was
/// offline, faulted, a look was accepted but failed, grants were refused; <c>no-grant</c> when none of these.</item>
/// </list>
/// </summary>
public static class LedgerRules
{
    private static DateTimeOffset At(AuditRecord r) => DateTimeOffset.Parse(r.At, CultureInfo.InvariantCulture);

    /// <summary>What became of <paramref name="check"/>, as a draft audit record (<paramref name="records"/>: the audit records from the window's opening on).</summary>
    public static AuditRecord Classify(ScheduledCheck check, IReadOnlyList<AuditRecord> records, IReadOnlyList<ConditionSpan> conditions)
    {
        var draft = new AuditRecord
        {
            Type = AuditType.CheckMissed, // until a look or a skip says otherwise
            Check = check.Id,
            Night = NightName(check.Night),
            Due = Wire.Time(check.Due),
            Kind = SessionKinds.Scheduled,
        };
        var refused = RefusedIn(check, records);
        var looks = records
            .Where(r => r.Type == AuditType.SessionAccepted && r.Kind == SessionKinds.Scheduled && r.Check == check.Id && check.OpenAt(At(r)))
            .Select(accepted => Look(accepted, records))
            .ToList();
        if (looks.Where(l => l.Started).OrderByDescending(l => l.DurationMs).FirstOrDefault() is { } looked)
        {
            return draft with
            {
                Type = AuditType.CheckLooked,
                Grant = looked.Accepted.Grant,
                Operator = looked.Accepted.Operator,
                View = looked.Accepted.View,
                DurationMs = looked.DurationMs,
                Refused = refused.Count > 0 ? refused : null,
            };
        }
        if (check.PausedNight)
        {
            return draft with { Type = AuditType.CheckSkipped, Reason = RefusalReason.PausedNight.Code(), Detail = "the care plan pauses this night" };
        }
        var during = conditions.Where(c => c.Overlaps(check.Opens, check.Closes)).ToList();
        if (during.FirstOrDefault(c => c.Condition == Condition.PrivacyPaused) is { } pause)
        {
            return draft with
            {
                Type = AuditType.CheckSkipped,
                Reason = RefusalReason.PrivacyPaused.Code(),
                Detail = $"paused by resident from {Wire.Time(pause.Since)}",
                Refused = refused.Count > 0 ? refused : null,
            };
        }
        // In MissReason's order (the agent down, offline, each fault), then what became of grants.
        var causes = during.Select(c => c.Condition.Cause).OfType<MissCause>().Distinct()
            .OrderBy(c => c.Reason).ThenBy(c => c.Of, StringComparer.Ordinal).ToList();
        var failed = looks.Where(l => !l.Started).ToList();
        if (failed.Count > 0)
        {
            causes.Add(MissCause.LookFailed);
        }
        causes.AddRange(refused.Keys.Select(MissCause.Refused));
        if (causes.Count == 0)
        {
            causes.Add(MissCause.NoGrant);
        }
        var detail = string.Join("; ", new[]
        {
            during.Where(c => c.Condition.IsOffline).Sum(c => c.OverlapWith(check.Opens, check.Closes).TotalSeconds) is > 0 and var offline
                ? $"unreachable {offline:0} s of the window" : null,
            failed.Count > 0 ? $"accepted look ended before capture: {string.Join(", ", failed.Select(f => f.EndReason ?? "unknown"))}" : null,
            causes[0].Reason == MissReason.NoGrant ? "the unit was ready and no grant came" : null,
        }.OfType<string>());
        return draft with
        {
            Type = AuditType.CheckMissed,
            Reason = causes[0].Reason.Code(),
            Causes = [.. causes.Select(c => c.Code())],
            Detail = detail.Length > 0 ? detail : null,
            Refused = refused.Count > 0 ? refused : null,
        };
    }

    /// <summary>The night's figures from its check records, its looks and refusals, and the unit's conditions during <paramref name="from"/>..<paramref name="to"/>.</summary>
    public static NightSummary Summarise(
        IReadOnlyList<AuditRecord> checkRecords,
        IReadOnlyList<AuditRecord> records,
        IReadOnlyList<ConditionSpan> conditions,
        DateTimeOffset from,
        DateTimeOffset to)
    {
        var checks = checkRecords.Select(r => r.Check).ToHashSet();
        var followUps = records
            .Where(r => r.Type == AuditType.SessionStarted && r.Kind == SessionKinds.FollowUp && checks.Contains(r.Check) && At(r) >= from && At(r) < to)
            .Select(r => r.Grant)
            .Distinct()
            .Count();
        var refused = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var r in records.Where(r => r.Type == AuditType.SessionRefused && At(r) >= from && At(r) < to))
        {
            refused[r.Reason ?? "unknown"] = refused.GetValueOrDefault(r.Reason ?? "unknown") + (r.Count ?? 1);
        }
        var during = conditions.Where(c => c.Overlaps(from, to)).ToList();
        return new NightSummary
        {
            Planned = checkRecords.Count,
            Looked = checkRecords.Count(r => r.Type == AuditType.CheckLooked),
            Missed = checkRecords.Count(r => r.Type == AuditType.CheckMissed),
            Skipped = checkRecords.Count(r => r.Type == AuditType.CheckSkipped),
            FollowUps = followUps,
            Refused = refused,
            Faults = during.Select(c => c.Condition.FaultCode).OfType<string>().Distinct().Order(StringComparer.Ordinal).ToList(),
            OfflineSeconds = (long)Math.Round(during.Where(c => c.Condition.IsOffline).Sum(c => c.OverlapWith(from, to).TotalSeconds)),
        };
    }

    public static string NightName(DateOnly night) => night.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>Refused grants inside the window that were for this check, or named no check.</summary>
    private static SortedDictionary<string, long> RefusedIn(ScheduledCheck check, IReadOnlyList<AuditRecord> records)
    {
        var refused = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var r in records.Where(r => r.Type == AuditType.SessionRefused && check.OpenAt(At(r))
                     && (r.Check == check.Id || (r.Check is null && r.Kind is null or SessionKinds.Scheduled))))
        {
            refused[r.Reason ?? "unknown"] = refused.GetValueOrDefault(r.Reason ?? "unknown") + (r.Count ?? 1);
        }
        return refused;
    }

    private sealed record LookFacts(AuditRecord Accepted, bool Started, long DurationMs, string? EndReason);

    private static LookFacts Look(AuditRecord accepted, IReadOnlyList<AuditRecord> records)
    {
        var mine = records.Where(r => r.Grant == accepted.Grant && r.Seq > accepted.Seq).ToList();
        var end = mine.FirstOrDefault(r => r.Type is AuditType.SessionEnded or AuditType.SessionAborted);
        return new LookFacts(accepted, mine.Any(r => r.Type == AuditType.SessionStarted), end?.DurationMs ?? 0, end?.Reason);
    }
}
