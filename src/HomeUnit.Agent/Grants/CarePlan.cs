using System.Globalization;
using HomeUnit.Protocol;

namespace HomeUnit.Agent.Grants;

/// <summary>One agreed check: a scheduled look may run within <see cref="Tolerance"/> either side of local <see cref="At"/>.</summary>
public sealed record PlannedCheck(string Id, TimeOnly At, TimeSpan Tolerance);

/// <summary>A verified care plan, its wall-clock rules parsed and checked (design §4).</summary>
public sealed record CarePlan(
    long Version,
    TimeZoneInfo Zone,
    IReadOnlyList<PlannedCheck> Checks,
    FollowUpRule? FollowUp,
    IReadOnlySet<DateOnly> PausedNights,
    DateTimeOffset ValidFrom,
    TimeSpan? PrivacyPause = null)
{
    /// <summary>The plan, or null if any field is out of range (unknown zone, bad time, duplicate check id...).</summary>
    public static CarePlan? From(CarePlanPayload p)
    {
        if (p.Version < 1 || p.ValidFrom < 0 || p.ValidFrom > 253_402_300_799 || p.Checks.Count > CarePlanLimits.MaxChecks
            || (p.PausedNights?.Count ?? 0) > CarePlanLimits.MaxPausedNights
            || p.FollowUp is { WithinMinutes: < 1 or > CarePlanLimits.MaxFollowUpMinutes } or { Max: < 0 or > CarePlanLimits.MaxFollowUps }
            || p.PrivacyPause is { MaxMinutes: < 1 or > CarePlanLimits.MaxPrivacyPauseMinutes }
            || !TimeZoneInfo.TryFindSystemTimeZoneById(p.Tz, out var zone))
        {
            return null;
        }
        var checks = new List<PlannedCheck>();
        foreach (var check in p.Checks)
        {
            if (check is null || !GrantVerifier.IsIdentifier(check.Id) || checks.Any(c => c.Id == check.Id)
                || check.ToleranceMinutes is < 1 or > CarePlanLimits.MaxToleranceMinutes
                || !TimeOnly.TryParseExact(check.At, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var at))
            {
                return null;
            }
            checks.Add(new PlannedCheck(check.Id, at, TimeSpan.FromMinutes(check.ToleranceMinutes)));
        }
        var paused = new HashSet<DateOnly>();
        foreach (var night in p.PausedNights ?? [])
        {
            if (!DateOnly.TryParseExact(night, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
            {
                return null;
            }
            paused.Add(date);
        }
        return new CarePlan(p.Version, zone, checks, p.FollowUp, paused, DateTimeOffset.FromUnixTimeSeconds(p.ValidFrom),
            p.PrivacyPause is { } pause ? TimeSpan.FromMinutes(pause.MaxMinutes) : null);
    }

    public bool InForceAt(DateTimeOffset now) => now >= ValidFrom;
}
