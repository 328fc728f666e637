using HomeUnit.Agent;
using HomeUnit.Agent.Audit;
using HomeUnit.Agent.Hosting;
using HomeUnit.Agent.Ledger;
using HomeUnit.Agent.Session;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace HomeUnit.Tests.Ledger;

/// <summary>
/// The night's ledger on a real state database with a clock the test moves: every scheduled check of the
/// care plan ends up in the audit chain as looked, skipped or missed, once, and each night is summed up.
/// </summary>
public sealed class NightLedgerTests : IDisposable
{
    private static readonly TimeZoneInfo Stockholm = TimeZoneInfo.FindSystemTimeZoneById("Europe/Stockholm");

    private readonly GrantRig rig;
    private readonly List<DeviceEvent> raised = [];
    private Events events = null!;
    private NightLedger ledger = null!;

    /// <summary>What the unit is in right now (offline, fault:camera...), as the host would report it.</summary>
    private readonly HashSet<Condition> conditions = [];

    private SessionRequest? running;

    public NightLedgerTests()
    {
        rig = new GrantRig(Local(2026, 11, 22, 20, 0));
        StartLedger();
    }

    public void Dispose() => rig.Dispose();

    private static DateTimeOffset Local(int year, int month, int day, int hour, int minute) =>
        new(TimeZoneInfo.ConvertTimeToUtc(new DateTime(year, month, day, hour, minute, 0, DateTimeKind.Unspecified), Stockholm));

    /// <summary>A ledger as the host builds it, on the rig's state files (again after <see cref="GrantRig.Restart"/>).</summary>
    private void StartLedger()
    {
        events = new Events(rig.Database, rig.Clock, NullLogger<Events>.Instance);
        events.Raised += e => { lock (raised) raised.Add(e); };
        ledger = new NightLedger(rig.Audit, events, new ConditionLog(rig.Database), rig.Plans,
            () => conditions.ToHashSet(), () => running, new LoopHeartbeats(), rig.Clock, NullLogger<NightLedger>.Instance);
    }

    /// <summary>Moves the clock to <paramref name="until"/> five minutes at a time, with a ledger turn after each step and at <paramref name="until"/> itself.</summary>
    private void RunUntil(DateTimeOffset until)
    {
        ledger.RunDue();
        while (rig.Clock.GetUtcNow() < until)
        {
            var next = rig.Clock.GetUtcNow() + TimeSpan.FromMinutes(5);
            rig.Clock.Set(next < until ? next : until);
            ledger.RunDue();
        }
    }

    /// <summary>A scheduled look now, as the session state machine records it: accepted, started, ended after <paramref name="seconds"/>.</summary>
    private async Task LookAsync(string check, string kind = SessionKinds.Scheduled, int seconds = 25, bool starts = true)
    {
        var decision = await rig.LookAsync(rig.Grant(kind, check));
        var look = Assert.IsType<SessionRequest>(decision.Request);
        if (starts)
        {
            rig.Audit.Append(new AuditRecord { Type = AuditType.SessionStarted, Grant = look.GrantId, Operator = look.Operator, Kind = look.Kind, Check = look.Check });
        }
        rig.Audit.Append(new AuditRecord
        {
            Type = starts ? AuditType.SessionEnded : AuditType.SessionAborted,
            Grant = look.GrantId,
            Operator = look.Operator,
            Kind = look.Kind,
            Check = look.Check,
            DurationMs = starts ? seconds * 1000 : 0,
            Reason = (starts ? EndReason.Completed : EndReason.CameraFault).Code(),
        });
    }

    private List<AuditRecord> Records(params AuditType[] types) => rig.Audit.List().Where(r => types.Contains(r.Type)).ToList();

    private List<AuditRecord> Outcomes() => Records([.. AuditTypeSets.CheckOutcomes]);

    private List<DeviceEvent> Raised(EventType type)
    {
        lock (raised) return raised.Where(e => e.Type == type).ToList();
    }

    [Fact]
    public void A_condition_is_stored_under_its_name_and_a_name_this_release_does_not_know_is_left_out()
    {
        Condition[] all = [Condition.Offline, Condition.AgentDown, Condition.PrivacyPaused, .. Codes.All<UnitFault>().Select(Condition.Of)];
        Assert.All(all, c => Assert.Equal(c, Condition.FromName(c.Name)));
        Assert.Equal(["offline", "agent-not-running", "privacy-paused", "fault:camera"],
            new[] { Condition.Offline, Condition.AgentDown, Condition.PrivacyPaused, Condition.Of(UnitFault.Camera) }.Select(c => c.Name));
        // A fault a later release recorded is still a fault; what is not a condition's name at all is left out.
        Assert.Equal("fault:thermal", Condition.FromName("fault:thermal")?.Cause?.Code());
        Assert.All(new[] { "", "fault", "fault:", "fault:Not A Code", "offline:camera", "offline:", "banana" }, name => Assert.Null(Condition.FromName(name)));
    }

    [Fact]
    public async Task A_night_across_midnight_records_a_look_a_missed_check_and_a_summary_next_morning()
    {
        await rig.ApplyPlanAsync(GrantRig.Plan()); // c1 22:30, c2 01:30, ±15 min, follow-ups within 30 min
        RunUntil(Local(2026, 11, 22, 22, 30));
        await LookAsync("c1");
        RunUntil(Local(2026, 11, 22, 22, 40));
        await LookAsync("c1", SessionKinds.FollowUp);

        RunUntil(Local(2026, 11, 23, 1, 44));
        var looked = Assert.Single(Outcomes());
        Assert.Equal(AuditType.CheckLooked, looked.Type);
        Assert.Equal(("c1", "2026-11-22", "operator-7", 25_000L), (looked.Check, looked.Night, looked.Operator, looked.DurationMs));
        Assert.Empty(Raised(EventType.CheckMissed));

        RunUntil(Local(2026, 11, 23, 1, 45)); // c2's window closes with no look
        var missed = Assert.Single(Records(AuditType.CheckMissed));
        Assert.Equal(("c2", "2026-11-22", "no-grant"), (missed.Check, missed.Night, missed.Reason));
        Assert.Equal(Wire.Time(Local(2026, 11, 23, 1, 30)), missed.Due);
        var alarm = Assert.Single(Raised(EventType.CheckMissed));
        Assert.Equal(Severity.Critical, alarm.Severity);
        Assert.Equal(Wire.Time(rig.Clock.GetUtcNow()), alarm.At);
        Assert.Empty(Records(AuditType.NightSummary));

        RunUntil(Local(2026, 11, 23, 2, 15)); // c2's follow-ups could still have come until 02:15
        var summary = Assert.Single(Records(AuditType.NightSummary)).Summary!;
        Assert.Equal((2, 1, 1, 1, 0), (summary.Planned, summary.Looked, summary.FollowUps, summary.Missed, summary.Skipped));
        Assert.Equal(Severity.Warning, Assert.Single(Raised(EventType.NightSummary)).Severity);

        RunUntil(Local(2026, 11, 23, 11, 0));
        Assert.Equal(2, Outcomes().Count);
        Assert.Single(Records(AuditType.NightSummary));
        Assert.Null(AuditChain.Verify(rig.Audit.List()));
    }

    [Fact]
    public async Task Audit_nights_prints_one_row_per_night_and_the_open_night_so_far()
    {
        await rig.ApplyPlanAsync(GrantRig.Plan());
        RunUntil(Local(2026, 11, 22, 22, 30));
        await LookAsync("c1");
        RunUntil(Local(2026, 11, 23, 22, 50)); // the next night's c1 recorded, its c2 not yet

        var text = new StringWriter();
        Assert.Equal(0, AuditCli.Nights(rig.Database, text, last: 5));

        var rows = text.ToString().Split('\n').Where(l => l.Contains("2026-11-")).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Matches(@"2026-11-22\s+2\s+1\s+0\s+1\s+0", rows[0]);
        Assert.Contains("open", rows[1]);
        Assert.Contains("2 nights", text.ToString());
    }

    [Fact]
    public async Task A_missed_check_says_why_offline_faulted_and_the_refusals_in_its_window()
    {
        await rig.ApplyPlanAsync(GrantRig.Plan());
        RunUntil(Local(2026, 11, 22, 22, 20));
        conditions.Add(Condition.Offline);
        RunUntil(Local(2026, 11, 22, 22, 25));
        conditions.Remove(Condition.Offline);
        conditions.Add(Condition.Of(UnitFault.Camera));
        rig.FaultPresent = true;
        await rig.LookAsync(rig.Grant(SessionKinds.Scheduled, "c1")); // refused: fault

        RunUntil(Local(2026, 11, 22, 22, 45));

        var missed = Assert.Single(Records(AuditType.CheckMissed));
        Assert.Equal("offline", missed.Reason);
        Assert.Equal(["offline", "fault:camera", "refused:fault"], missed.Causes);
        Assert.Equal(1, missed.Refused![RefusalReason.Fault.Code()]);
        Assert.Contains("unreachable 300 s", missed.Detail);
    }

    [Fact]
    public async Task An_accepted_look_that_never_captured_is_a_missed_check()
    {
        await rig.ApplyPlanAsync(GrantRig.Plan());
        RunUntil(Local(2026, 11, 22, 22, 30));
        await LookAsync("c1", starts: false);

        RunUntil(Local(2026, 11, 22, 22, 45));

        var missed = Assert.Single(Records(AuditType.CheckMissed));
        Assert.Equal("look-failed", missed.Reason);
        Assert.Contains(EndReason.CameraFault.Code(), missed.Detail);
    }

    [Fact]
    public async Task A_paused_night_is_skipped_without_an_alarm()
    {
        await rig.ApplyPlanAsync(GrantRig.Plan(paused: ["2026-11-22"]));

        RunUntil(Local(2026, 11, 23, 3, 0));

        Assert.All(Outcomes(), r => Assert.Equal((AuditType.CheckSkipped, RefusalReason.PausedNight.Code()), (r.Type, r.Reason)));
        Assert.Equal(2, Outcomes().Count);
        Assert.Empty(Raised(EventType.CheckMissed));
        var summary = Assert.Single(Records(AuditType.NightSummary)).Summary!;
        Assert.Equal((2, 2, 0), (summary.Planned, summary.Skipped, summary.Missed));
        Assert.Equal(Severity.Info, Assert.Single(Raised(EventType.NightSummary)).Severity);
    }

    [Fact]
    public async Task A_check_during_the_residents_pause_is_skipped_paused_by_resident()
    {
        await rig.ApplyPlanAsync(GrantRig.Plan());
        RunUntil(Local(2026, 11, 22, 22, 10));
        conditions.Add(Condition.PrivacyPaused);
        RunUntil(Local(2026, 11, 22, 22, 35));
        conditions.Remove(Condition.PrivacyPaused);

        RunUntil(Local(2026, 11, 22, 22, 45));

        var skipped = Assert.Single(Outcomes());
        Assert.Equal((AuditType.CheckSkipped, RefusalReason.PrivacyPaused.Code()), (skipped.Type, skipped.Reason));
        Assert.Contains("paused by resident", skipped.Detail);
        Assert.Empty(Raised(EventType.CheckMissed));
    }

    [Fact]
    public async Task Spring_night_records_every_check_once_including_the_one_in_the_skipped_hour()
    {
        // 2026-03-29 02:00 CET jumps to 03:00 CEST: a check at 02:30 happens at 03:30 CEST.
        rig.Clock.Set(Local(2026, 3, 28, 20, 0)); // before the ledger's first turn
        await rig.ApplyPlanAsync(GrantRig.Plan(checks: [new("c1", "22:30", 15), new("c2", "02:30", 15), new("c3", "03:30", 15)]));

        RunUntil(Local(2026, 3, 29, 10, 0));

        Assert.Equal(["c1", "c2", "c3"], Outcomes().Select(r => r.Check));
        Assert.Equal(Wire.Time(Local(2026, 3, 29, 3, 30)), Outcomes()[1].Due);
        Assert.Equal(3, Raised(EventType.CheckMissed).Count);
        var summary = Assert.Single(Records(AuditType.NightSummary));
        Assert.Equal(("2026-03-28", 3, 3), (summary.Night, summary.Summary!.Planned, summary.Summary.Missed));
    }

    [Fact]
    public async Task Autumn_night_records_the_check_in_the_doubled_hour_once()
    {
        // 2026-10-25 03:00 CEST falls back to 02:00 CET: 02:30 happens twice, the check the first time.
        rig.Clock.Set(Local(2026, 10, 24, 20, 0));
        await rig.ApplyPlanAsync(GrantRig.Plan(checks: [new("c1", "22:30", 15), new("c2", "02:30", 15)]));
        RunUntil(new DateTimeOffset(2026, 10, 25, 0, 30, 0, TimeSpan.Zero)); // 02:30 CEST
        await LookAsync("c2");

        RunUntil(new DateTimeOffset(2026, 10, 25, 2, 0, 0, TimeSpan.Zero)); // 03:00 CET, after the second 02:30
        RunUntil(Local(2026, 10, 25, 10, 0));

        Assert.Equal([(AuditType.CheckMissed, "c1"), (AuditType.CheckLooked, "c2")], Outcomes().Select(r => (r.Type, r.Check!)));
        var summary = Assert.Single(Records(AuditType.NightSummary)).Summary!;
        Assert.Equal((2, 1, 1), (summary.Planned, summary.Looked, summary.Missed));
    }

    [Fact]
    public async Task A_restart_inside_a_window_neither_loses_nor_double_counts_the_check()
    {
        await rig.ApplyPlanAsync(GrantRig.Plan());
        RunUntil(Local(2026, 11, 22, 22, 30));
        await LookAsync("c1");
        RunUntil(Local(2026, 11, 22, 22, 35));

        rig.Restart();
        StartLedger();
        RunUntil(Local(2026, 11, 22, 22, 50));
        rig.Restart();
        StartLedger();
        RunUntil(Local(2026, 11, 22, 23, 0));

        var looked = Assert.Single(Outcomes());
        Assert.Equal((AuditType.CheckLooked, "c1"), (looked.Type, looked.Check));
    }

    [Fact]
    public async Task A_check_that_closed_while_the_agent_was_not_running_is_recorded_at_the_next_start_as_missed()
    {
        await rig.ApplyPlanAsync(GrantRig.Plan());
        RunUntil(Local(2026, 11, 22, 22, 20));

        rig.Restart(); // the agent is down from 22:20 to 23:10
        rig.Clock.Set(Local(2026, 11, 22, 23, 10));
        StartLedger();
        ledger.RunDue();
        ledger.RunDue();

        var missed = Assert.Single(Records(AuditType.CheckMissed));
        Assert.Equal("agent-not-running", missed.Reason);
        Assert.Single(Raised(EventType.CheckMissed));
    }

    [Fact]
    public async Task A_look_running_as_the_window_closes_is_recorded_once_it_has_ended()
    {
        await rig.ApplyPlanAsync(GrantRig.Plan());
        RunUntil(Local(2026, 11, 22, 22, 44));
        var decision = await rig.LookAsync(rig.Grant(SessionKinds.Scheduled, "c1"));
        running = decision.Request;
        RunUntil(Local(2026, 11, 22, 22, 46));
        Assert.Empty(Outcomes());

        rig.Audit.Append(new AuditRecord { Type = AuditType.SessionStarted, Grant = running!.GrantId, Kind = running.Kind, Check = "c1", Operator = running.Operator });
        rig.Audit.Append(new AuditRecord { Type = AuditType.SessionEnded, Grant = running.GrantId, Kind = running.Kind, Check = "c1", DurationMs = 5_000 });
        running = null;
        ledger.RunDue();

        Assert.Equal(AuditType.CheckLooked, Assert.Single(Outcomes()).Type);
    }

    [Fact]
    public async Task Checks_whose_window_opened_before_the_unit_had_its_care_plan_are_not_planned()
    {
        RunUntil(Local(2026, 11, 22, 22, 20));
        await rig.ApplyPlanAsync(GrantRig.Plan()); // applied inside c1's window

        RunUntil(Local(2026, 11, 23, 3, 0));

        Assert.Equal(["c2"], Outcomes().Select(r => r.Check));
        Assert.Equal(1, Assert.Single(Records(AuditType.NightSummary)).Summary!.Planned);
    }
}
