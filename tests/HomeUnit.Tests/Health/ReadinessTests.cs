using HomeUnit.Agent.Grants;
using HomeUnit.Agent.Health;
using HomeUnit.Agent.Hosting;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace HomeUnit.Tests.Health;

/// <summary>Readiness: a self-test a few minutes before each scheduled check, so a visit can replace a check in time.</summary>
public sealed class ReadinessTests
{
    private static readonly TimeSpan Lead = TimeSpan.FromMinutes(5);

    private static Readiness ReadinessFor(UnitUnderTest unit, GrantRig rig) =>
        new(unit.SelfTest, rig.Plans, unit.Events, new LoopHeartbeats(), rig.Clock, Lead, NullLogger<Readiness>.Instance);

    private static List<DeviceEvent> Record(UnitUnderTest unit)
    {
        var raised = new List<DeviceEvent>();
        unit.Events.Raised += e => { lock (raised) raised.Add(e); };
        return raised;
    }

    [Fact]
    public async Task Readiness_is_reported_once_within_the_lead_time_before_a_check_and_not_earlier()
    {
        using var unit = new UnitUnderTest();
        using var rig = new GrantRig(now: new DateTimeOffset(2026, 11, 22, 21, 20, 0, TimeSpan.Zero)); // 22:20 CET, check c1 at 22:30
        await rig.ApplyPlanAsync(GrantRig.Plan());
        var raised = Record(unit);
        var readiness = ReadinessFor(unit, rig);

        await readiness.RunDueAsync(CancellationToken.None);
        Assert.DoesNotContain(raised, e => e.Type == EventType.Readiness);

        rig.Clock.Advance(TimeSpan.FromMinutes(6)); // 22:26: four minutes to go
        await readiness.RunDueAsync(CancellationToken.None);
        await readiness.RunDueAsync(CancellationToken.None);

        var report = Assert.Single(raised, e => e.Type == EventType.Readiness);
        Assert.Equal(Severity.Info, report.Severity);
        var json = System.Text.Json.JsonSerializer.Serialize(report.Data, Wire.Json);
        Assert.Contains("\"ready\":true", json);
        Assert.Contains("\"check\":\"c1\"", json);
    }

    [Fact]
    public async Task A_power_cut_before_a_check_turns_into_a_critical_readiness_that_says_send_staff()
    {
        using var unit = new UnitUnderTest();
        using var rig = new GrantRig(now: new DateTimeOffset(2026, 11, 22, 0, 27, 0, TimeSpan.Zero)); // 01:27 CET, check c2 at 01:30
        await rig.ApplyPlanAsync(GrantRig.Plan());
        var raised = Record(unit);
        unit.Kernel.SetMains(false);

        await ReadinessFor(unit, rig).RunDueAsync(CancellationToken.None);

        var report = Assert.Single(raised, e => e.Type == EventType.Readiness);
        Assert.Equal(Severity.Critical, report.Severity);
        var json = System.Text.Json.JsonSerializer.Serialize(report.Data, Wire.Json);
        Assert.Contains("\"ready\":false", json);
        Assert.Contains("on battery", json);
        Assert.Contains(UnitFault.SelfTest, unit.Health.Faults);
    }

    [Fact]
    public async Task No_readiness_on_a_paused_night_or_without_a_care_plan()
    {
        using var unit = new UnitUnderTest();
        using var rig = new GrantRig(now: new DateTimeOffset(2026, 11, 22, 21, 27, 0, TimeSpan.Zero));
        var raised = Record(unit);
        var readiness = ReadinessFor(unit, rig);

        await readiness.RunDueAsync(CancellationToken.None);
        await rig.ApplyPlanAsync(GrantRig.Plan(paused: ["2026-11-22"]));
        await readiness.RunDueAsync(CancellationToken.None);

        Assert.DoesNotContain(raised, e => e.Type == EventType.Readiness);
    }

    [Fact]
    public void A_check_in_the_missing_spring_hour_gets_its_readiness_before_it_happens()
    {
        // 2026-03-29: 02:00 → 03:00 in Stockholm. A check planned at 02:30 happens at 03:30 CEST (01:30 UTC).
        var plan = CarePlan.From(GrantRig.Plan(checks: [new CarePlanCheck("c1", "02:30", 15)]))!;
        var before = new DateTimeOffset(2026, 3, 29, 1, 27, 0, TimeSpan.Zero);

        var due = Assert.Single(Readiness.UpcomingChecks(plan, before, Lead));

        Assert.Equal(new DateTimeOffset(2026, 3, 29, 1, 30, 0, TimeSpan.Zero), due.At);
        Assert.Equal(new DateOnly(2026, 3, 28), due.Night);
        Assert.Empty(Readiness.UpcomingChecks(plan, before.AddMinutes(-10), Lead));
    }
}
