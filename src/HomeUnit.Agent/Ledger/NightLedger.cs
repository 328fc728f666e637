using HomeUnit.Agent.Audit;
using HomeUnit.Agent.Grants;
using HomeUnit.Agent.Hosting;
using HomeUnit.Agent.Session;
using HomeUnit.Protocol;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Ledger;

/// <summary>
/// The night's ledger. Every second it notes the unit's conditions and, for each scheduled check of the
/// care plan whose window has closed (and whose look, if one runs, has ended), writes what became of it
/// into the audit chain: <c>check.looked</c>, <c>check.skipped</c> or <c>check.missed</c>, the last
/// together with a critical <c>check.missed</c> event in one transaction. Once the night's last check
/// and its follow-ups are over it writes <c>night.summary</c> (audit record and event).
/// The audit chain is the ledger's memory: a check or night already recorded there is never recorded
/// again, so a restart neither loses nor double-counts one; records go out through the outbox, so a
/// check that closes during a link outage is recorded at once and delivered when the link returns.
/// After a restart the ledger catches up on the checks that closed while the agent was not running
/// (at most <see cref="CatchUpNights"/> nights back).
/// </summary>
public sealed class NightLedger(
    AuditLog audit,
    Events events,
    ConditionLog conditions,
    CarePlanStore plans,
    Func<IReadOnlySet<Condition>> currentConditions,
    Func<SessionRequest?> runningLook,
    LoopHeartbeats heartbeats,
    TimeProvider clock,
    ILogger<NightLedger> log) : BackgroundService
{
    public const int CatchUpNights = 7;
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);

    private readonly HashSet<(string Night, string Check)> recorded = [];
    private readonly HashSet<string> summarised = new(StringComparer.Ordinal);
    private bool started;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Tick, clock);
        do
        {
            heartbeats.Beat(nameof(NightLedger));
            try
            {
                RunDue();
            }
            catch (Exception e)
            {
                // Storage may be failing; the next turn tries again and nothing recorded is lost.
                log.LogError("night ledger turn failed: {Error}", e.Message);
            }
        }
        while (await timer.NextTickAsync(stoppingToken));
    }

    /// <summary>One turn: note conditions, record the checks whose windows have closed, summarise finished nights.</summary>
    public void RunDue()
    {
        var now = clock.GetUtcNow();
        if (!started)
        {
            conditions.Recover(now);
            foreach (var r in audit.OfTypes([.. AuditTypeSets.CheckOutcomes, AuditType.NightSummary]))
            {
                if (r.Type == AuditType.NightSummary)
                {
                    summarised.Add(r.Night ?? "");
                }
                else
                {
                    recorded.Add((r.Night ?? "", r.Check ?? ""));
                }
            }
            started = true;
        }
        conditions.Observe(currentConditions(), now);
        if (plans.Current is not { } plan || !plan.InForceAt(now))
        {
            return;
        }
        var watchedFrom = conditions.WatchedFrom(now);
        var tonight = WallClock.NightOf(now, plan.Zone);
        var first = WallClock.NightOf(watchedFrom, plan.Zone);
        if (first < tonight.AddDays(-CatchUpNights))
        {
            first = tonight.AddDays(-CatchUpNights);
        }
        var look = runningLook();
        for (var night = first; night <= tonight; night = night.AddDays(1))
        {
            var checks = NightPlan.ChecksOf(plan, night, watchedFrom);
            var name = LedgerRules.NightName(night);
            foreach (var check in checks.Where(c => c.Closes <= now && !recorded.Contains((name, c.Id))))
            {
                if (look is not null && look.Check == check.Id)
                {
                    continue; // its look ends by the window's close; record it once it has
                }
                Record(check);
            }
            if (NightPlan.SummaryDue(plan, checks) is { } due && due <= now && look is null && !summarised.Contains(name)
                && checks.All(c => recorded.Contains((name, c.Id))))
            {
                Summarise(night, checks, due);
            }
        }
    }

    private void Record(ScheduledCheck check)
    {
        var facts = audit.Since(check.Opens);
        var spans = conditions.During(check.Opens, check.Closes);
        var draft = LedgerRules.Classify(check, facts, spans);
        AuditLog.AlongEvent? alarm = draft.Type == AuditType.CheckMissed
            ? new AuditLog.AlongEvent(events, EventType.CheckMissed, Severity.Critical, new
            {
                check = check.Id,
                night = draft.Night,
                due = draft.Due,
                windowClosed = Wire.Time(check.Closes),
                reason = draft.Reason,
                causes = draft.Causes,
                detail = draft.Detail,
                refused = draft.Refused,
            })
            : null;
        audit.Append(draft, alarm);
        recorded.Add((draft.Night!, check.Id));
        log.LogInformation("check {Check} of night {Night}: {Outcome} {Reason}", check.Id, draft.Night, draft.Type, draft.Reason ?? "");
    }

    private void Summarise(DateOnly night, IReadOnlyList<ScheduledCheck> checks, DateTimeOffset due)
    {
        var name = LedgerRules.NightName(night);
        var from = checks.Min(c => c.Opens);
        var outcomes = audit.OfTypes([.. AuditTypeSets.CheckOutcomes]).Where(r => r.Night == name).ToList();
        var summary = LedgerRules.Summarise(outcomes, audit.Since(from), conditions.During(from, due), from, due);
        var severity = summary.Missed > 0 ? Severity.Warning : Severity.Info;
        audit.Append(
            new AuditRecord { Type = AuditType.NightSummary, Night = name, Summary = summary },
            new AuditLog.AlongEvent(events, EventType.NightSummary, severity, new
            {
                night = name,
                summary.Planned,
                summary.Looked,
                summary.FollowUps,
                summary.Missed,
                summary.Skipped,
                summary.Refused,
                summary.Faults,
                summary.OfflineSeconds,
                checks = outcomes.Select(r => new { check = r.Check, outcome = r.Type, reason = r.Reason }),
            }));
        summarised.Add(name);
    }
}
