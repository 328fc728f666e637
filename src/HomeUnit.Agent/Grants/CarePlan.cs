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
    /// <summary>The plan, or null if <see cref="CarePlanLimits.Problem"/> finds anything wrong (unknown zone, bad time, duplicate check id...).</summary>
    public static CarePlan? From(CarePlanPayload p)
    {
        if (CarePlanLimits.Problem(p) is not null || !TimeZoneInfo.TryFindSystemTimeZoneById(p.Tz, out var zone))
        {
            return null;
        }
        var checks = p.Checks.Select(c => new PlannedCheck(c.Id, TimeOnly.ParseExact(c.At, "HH:mm", CultureInfo.InvariantCulture), TimeSpan.FromMinutes(c.ToleranceMinutes))).ToList();
        var paused = (p.PausedNights ?? []).Select(n => DateOnly.ParseExact(n, "yyyy-MM-dd", CultureInfo.InvariantCulture)).ToHashSet();
        return new CarePlan(p.Version, zone, checks, p.FollowUp, paused, DateTimeOffset.FromUnixTimeSeconds(p.ValidFrom),
            p.PrivacyPause is { } pause ? TimeSpan.FromMinutes(pause.MaxMinutes) : null);
    }

    public bool InForceAt(DateTimeOffset now) => now >= ValidFrom;
}
