using System.Globalization;
using HomeUnit.Protocol;

namespace HomeUnit.Agent.Ledger;

/// <summary>A span of time in which the unit was in a condition that keeps a look from happening; <see cref="Until"/> null while it lasts.</summary>
public sealed record ConditionSpan(string Name, DateTimeOffset Since, DateTimeOffset? Until)
{
    public bool Overlaps(DateTimeOffset from, DateTimeOffset to) => Since < to && (Until ?? DateTimeOffset.MaxValue) > from;

    public TimeSpan OverlapWith(DateTimeOffset from, DateTimeOffset to)
    {
        var start = Since > from ? Since : from;
        var end = Until is { } u && u < to ? u : to;
        return end > start ? end - start : TimeSpan.Zero;
    }
}

/// <summary>The conditions the ledger keeps, as they appear in a missed check's causes.</summary>
public static class Conditions
{
    /// <summary>The link to the central was down: grants could not arrive.</summary>
    public const string Offline = "offline";

    /// <summary>The agent was not running (a crash, a restart, a power cut without battery).</summary>
    public const string AgentDown = "agent-not-running";

    /// <summary>The resident had paused the camera.</summary>
    public const string PrivacyPaused = "privacy-paused";

    public const string FaultPrefix = "fault:";

    public static string Fault(string fault) => FaultPrefix + fault;

    /// <summary>Conditions in which the centre could not reach the unit.</summary>
    public static bool IsOffline(string name) => name is Offline or AgentDown;
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
    public const string NoGrant = "no-grant";
    public const string LookFailed = "look-failed";
    public const string Refused = "refused";

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
            Kind = LookKinds.Scheduled,
        };
        var refused = RefusedIn(check, records);
        var looks = records
            .Where(r => r.Type == AuditType.SessionAccepted && r.Kind == LookKinds.Scheduled && r.Check == check.Id && check.OpenAt(At(r)))
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
        if (during.FirstOrDefault(c => c.Name == Conditions.PrivacyPaused) is { } pause)
        {
            return draft with
            {
                Type = AuditType.CheckSkipped,
                Reason = RefusalReason.PrivacyPaused.Code(),
                Detail = $"paused by resident from {Wire.Time(pause.Since)}",
                Refused = refused.Count > 0 ? refused : null,
            };
        }
        var causes = new List<string>();
        causes.AddRange(during.Where(c => c.Name == Conditions.AgentDown).Select(c => c.Name).Distinct());
        causes.AddRange(during.Where(c => c.Name == Conditions.Offline).Select(c => c.Name).Distinct());
        causes.AddRange(during.Where(c => c.Name.StartsWith(Conditions.FaultPrefix, StringComparison.Ordinal)).Select(c => c.Name).Distinct().Order(StringComparer.Ordinal));
        var failed = looks.Where(l => !l.Started).ToList();
        if (failed.Count > 0)
        {
            causes.Add(LookFailed);
        }
        causes.AddRange(refused.Keys.Select(reason => $"{Refused}:{reason}"));
        if (causes.Count == 0)
        {
            causes.Add(NoGrant);
        }
        var detail = string.Join("; ", new[]
        {
            during.Where(c => Conditions.IsOffline(c.Name)).Sum(c => c.OverlapWith(check.Opens, check.Closes).TotalSeconds) is > 0 and var offline
                ? $"unreachable {offline:0} s of the window" : null,
            failed.Count > 0 ? $"accepted look ended before capture: {string.Join(", ", failed.Select(f => f.EndReason ?? "unknown"))}" : null,
            causes[0] == NoGrant ? "the unit was ready and no grant came" : null,
        }.OfType<string>());
        return draft with
        {
            Type = AuditType.CheckMissed,
            Reason = causes[0].Split(':')[0],
            Causes = causes,
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
            .Where(r => r.Type == AuditType.SessionStarted && r.Kind == LookKinds.FollowUp && checks.Contains(r.Check) && At(r) >= from && At(r) < to)
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
            Faults = during.Where(c => c.Name.StartsWith(Conditions.FaultPrefix, StringComparison.Ordinal))
                .Select(c => c.Name[Conditions.FaultPrefix.Length..]).Distinct().Order(StringComparer.Ordinal).ToList(),
            OfflineSeconds = (long)Math.Round(during.Where(c => Conditions.IsOffline(c.Name)).Sum(c => c.OverlapWith(from, to).TotalSeconds)),
        };
    }

    public static string NightName(DateOnly night) => night.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>Refused grants inside the window that were for this check, or named no check.</summary>
    private static SortedDictionary<string, long> RefusedIn(ScheduledCheck check, IReadOnlyList<AuditRecord> records)
    {
        var refused = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var r in records.Where(r => r.Type == AuditType.SessionRefused && check.OpenAt(At(r))
                     && (r.Check == check.Id || (r.Check is null && r.Kind is null or LookKinds.Scheduled))))
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
