using HomeUnit.Protocol;

namespace HomeUnit.Agent.Grants;

/// <summary>A look that was accepted earlier (from the audit log's <c>session.accepted</c> records).</summary>
public sealed record PastSession(string Kind, string? Check, DateTimeOffset At);

/// <summary>Whether the care plan allows a look now: if so until when (and for which check), else the reason.</summary>
public readonly record struct PlanDecision(RefusalReason? Reason, DateTimeOffset Until, string? Check)
{
    public static PlanDecision Refuse(RefusalReason reason) => new(reason, default, null);
}

/// <summary>
/// The care plan's rules for a look of a kind at an instant (design §4):
/// <list type="bullet">
/// <item><c>scheduled</c>: within a check's tolerance on a night that is not paused (the grant may name the check).</item>
/// <item><c>follow-up</c>: within <c>withinMinutes</c> after the latest accepted scheduled look of the same check and night,
/// at most <c>max</c> follow-ups per check and night.</item>
/// <item><c>installation</c>: only while no care plan is in force (none received, or before its <c>validFrom</c>):
/// once the resident's plan applies, the camera is on only at agreed times.</item>
/// </list>
/// No plan, or a plan not yet in force, allows no scheduled or follow-up look.
/// </summary>
public static class CarePlanPolicy
{
    public static PlanDecision Decide(CarePlan? plan, string kind, string? check, DateTimeOffset now, IReadOnlyList<PastSession> history) => kind switch
    {
        SessionKinds.Installation => plan is not null && plan.InForceAt(now)
            ? PlanDecision.Refuse(RefusalReason.OutsideCarePlan)
            : new PlanDecision(null, DateTimeOffset.MaxValue, null),
        _ when plan is null || !plan.InForceAt(now) => PlanDecision.Refuse(RefusalReason.OutsideCarePlan),
        SessionKinds.Scheduled => Scheduled(plan, check, now),
        SessionKinds.FollowUp when check is not null => FollowUp(plan, check, now, history),
        _ => PlanDecision.Refuse(RefusalReason.Malformed),
    };

    private static PlanDecision Scheduled(CarePlan plan, string? check, DateTimeOffset now)
    {
        var tonight = WallClock.NightOf(now, plan.Zone);
        var pausedMatch = false;
        // A check's window can reach across noon only with a check near noon; looking at the
        // neighbouring nights covers that without special cases.
        foreach (var night in new[] { tonight.AddDays(-1), tonight, tonight.AddDays(1) })
        {
            foreach (var planned in plan.Checks.Where(c => check is null || c.Id == check))
            {
                var at = WallClock.CheckInstant(night, planned.At, plan.Zone);
                if (now < at - planned.Tolerance || now >= at + planned.Tolerance)
                {
                    continue;
                }
                if (!plan.PausedNights.Contains(night))
                {
                    return new PlanDecision(null, at + planned.Tolerance, planned.Id);
                }
                pausedMatch = true;
            }
        }
        return PlanDecision.Refuse(pausedMatch || plan.PausedNights.Contains(tonight)
            ? RefusalReason.PausedNight
            : RefusalReason.OutsideCarePlan);
    }

    private static PlanDecision FollowUp(CarePlan plan, string check, DateTimeOffset now, IReadOnlyList<PastSession> history)
    {
        var tonight = WallClock.NightOf(now, plan.Zone);
        if (plan.PausedNights.Contains(tonight))
        {
            return PlanDecision.Refuse(RefusalReason.PausedNight);
        }
        if (plan.FollowUp is not { } rule)
        {
            return PlanDecision.Refuse(RefusalReason.OutsideCarePlan);
        }
        var sameCheckTonight = history
            .Where(l => l.Check == check && l.At <= now && WallClock.NightOf(l.At, plan.Zone) == tonight)
            .ToList();
        var scheduled = sameCheckTonight.Where(l => l.Kind == SessionKinds.Scheduled).OrderBy(l => l.At).LastOrDefault();
        if (scheduled is null
            || now >= scheduled.At + TimeSpan.FromMinutes(rule.WithinMinutes)
            || sameCheckTonight.Count(l => l.Kind == SessionKinds.FollowUp) >= rule.Max)
        {
            return PlanDecision.Refuse(RefusalReason.OutsideCarePlan);
        }
        return new PlanDecision(null, scheduled.At + TimeSpan.FromMinutes(rule.WithinMinutes), check);
    }
}
