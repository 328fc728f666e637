using HomeUnit.Agent.Grants;

namespace HomeUnit.Agent.Ledger;

/// <summary>
/// One scheduled check of one night: a scheduled look may run from <see cref="Opens"/> until
/// <see cref="Closes"/> (the check's instant ± its tolerance, as <see cref="CarePlanPolicy"/> allows it).
/// </summary>
public sealed record ScheduledCheck(DateOnly Night, string Id, DateTimeOffset Due, DateTimeOffset Opens, DateTimeOffset Closes, bool PausedNight)
{
    public bool OpenAt(DateTimeOffset instant) => instant >= Opens && instant < Closes;
}

/// <summary>
/// Which checks a care plan yields on a night, and when the night's ledger closes. Wall-clock times
/// follow <see cref="WallClock"/>: a check in the hour skipped in spring happens after the jump, one in
/// the hour doubled in autumn happens the first time, so every check of the plan happens once a night.
/// </summary>
public static class NightPlan
{
    /// <summary>The night's checks in order of their instant; those whose window opens before <paramref name="watchedFrom"/> or before the plan's <c>validFrom</c> are not planned.</summary>
    public static IReadOnlyList<ScheduledCheck> ChecksOf(CarePlan plan, DateOnly night, DateTimeOffset watchedFrom)
    {
        var paused = plan.PausedNights.Contains(night);
        return plan.Checks
            .Select(c =>
            {
                var due = WallClock.CheckInstant(night, c.At, plan.Zone);
                return new ScheduledCheck(night, c.Id, due, due - c.Tolerance, due + c.Tolerance, paused);
            })
            .Where(c => c.Opens >= watchedFrom && plan.InForceAt(c.Opens))
            .OrderBy(c => c.Due)
            .ThenBy(c => c.Id, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>
    /// When the night's summary is due: once the last check's window has closed and the follow-ups it
    /// may still have (within <c>withinMinutes</c> of a scheduled look, which ends by the window's close)
    /// can no longer start. Null when the night has no planned check.
    /// </summary>
    public static DateTimeOffset? SummaryDue(CarePlan plan, IReadOnlyList<ScheduledCheck> checks) =>
        checks.Count == 0
            ? null
            : checks.Max(c => c.Closes) + (plan.FollowUp is { } rule ? TimeSpan.FromMinutes(rule.WithinMinutes) : TimeSpan.Zero);
}
