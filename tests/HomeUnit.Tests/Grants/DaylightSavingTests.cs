using HomeUnit.Agent.Grants;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Xunit;

namespace HomeUnit.Tests.Grants;

/// <summary>
/// Care-plan times are wall-clock times in Europe/Stockholm. On 2026-03-29 the clock jumps from
/// 02:00 CET to 03:00 CEST (02:00–03:00 never happens); on 2026-10-25 it falls back from 03:00 CEST
/// to 02:00 CET (02:00–03:00 happens twice).
/// </summary>
public sealed class DaylightSavingTests
{
    private static readonly TimeZoneInfo Stockholm = TimeZoneInfo.FindSystemTimeZoneById("Europe/Stockholm");

    private static DateTimeOffset Utc(int month, int day, int hour, int minute) => new(2026, month, day, hour, minute, 0, TimeSpan.Zero);

    private static CarePlan PlanWith(params CarePlanCheck[] checks) => CarePlan.From(GrantRig.Plan(checks: checks))!;

    private static RefusalReason? Scheduled(CarePlan plan, DateTimeOffset at) => CarePlanPolicy.Decide(plan, SessionKinds.Scheduled, null, at, []).Reason;

    [Theory]
    [InlineData("22:30", 3, 28, 21, 30)] // CET, before the jump
    [InlineData("01:30", 3, 29, 0, 30)] // CET
    [InlineData("02:00", 3, 29, 1, 0)] // skipped: moved forward by the jump to 03:00 CEST
    [InlineData("02:30", 3, 29, 1, 30)] // skipped: 03:30 CEST
    [InlineData("03:30", 3, 29, 1, 30)] // CEST
    [InlineData("06:00", 3, 29, 4, 0)] // CEST
    public void Spring_night_checks_happen_at_these_instants(string at, int month, int day, int hour, int minute)
    {
        var night = new DateOnly(2026, 3, 28);
        Assert.Equal(Utc(month, day, hour, minute), WallClock.CheckInstant(night, TimeOnly.Parse(at), Stockholm));
    }

    [Theory]
    [InlineData("22:30", 10, 24, 20, 30)] // CEST
    [InlineData("01:30", 10, 24, 23, 30)] // CEST
    [InlineData("02:30", 10, 25, 0, 30)] // happens twice: the first time, CEST
    [InlineData("03:30", 10, 25, 2, 30)] // CET
    [InlineData("06:00", 10, 25, 5, 0)] // CET
    public void Autumn_night_checks_happen_at_these_instants(string at, int month, int day, int hour, int minute)
    {
        var night = new DateOnly(2026, 10, 24);
        Assert.Equal(Utc(month, day, hour, minute), WallClock.CheckInstant(night, TimeOnly.Parse(at), Stockholm));
    }

    [Fact]
    public void Spring_night_is_23_hours_and_autumn_night_is_25_hours_from_noon_to_noon()
    {
        Assert.Equal(new DateOnly(2026, 3, 28), WallClock.NightOf(Utc(3, 29, 9, 59), Stockholm)); // 11:59 CEST
        Assert.Equal(new DateOnly(2026, 3, 29), WallClock.NightOf(Utc(3, 29, 10, 0), Stockholm)); // 12:00 CEST
        Assert.Equal(new DateOnly(2026, 3, 28), WallClock.NightOf(Utc(3, 28, 11, 0), Stockholm)); // 12:00 CET
        Assert.Equal(new DateOnly(2026, 10, 24), WallClock.NightOf(Utc(10, 24, 10, 0), Stockholm)); // 12:00 CEST
        Assert.Equal(new DateOnly(2026, 10, 24), WallClock.NightOf(Utc(10, 25, 10, 59), Stockholm)); // 11:59 CET
        Assert.Equal(new DateOnly(2026, 10, 25), WallClock.NightOf(Utc(10, 25, 11, 0), Stockholm)); // 12:00 CET
    }

    [Fact]
    public void Check_in_the_skipped_hour_allows_a_look_after_the_jump_only()
    {
        var plan = PlanWith(new CarePlanCheck("c1", "02:30", 15));

        Assert.Null(Scheduled(plan, Utc(3, 29, 1, 20))); // 03:20 CEST
        Assert.Null(Scheduled(plan, Utc(3, 29, 1, 40))); // 03:40 CEST
        Assert.Equal(RefusalReason.OutsideCarePlan, Scheduled(plan, Utc(3, 29, 0, 50))); // 01:50 CET: 40 minutes early
        Assert.Equal(RefusalReason.OutsideCarePlan, Scheduled(plan, Utc(3, 29, 1, 50))); // 03:50 CEST
    }

    [Fact]
    public void Check_in_the_doubled_hour_allows_a_look_the_first_time_only()
    {
        var plan = PlanWith(new CarePlanCheck("c1", "02:30", 15));

        Assert.Null(Scheduled(plan, Utc(10, 25, 0, 30))); // 02:30 CEST
        Assert.Equal(RefusalReason.OutsideCarePlan, Scheduled(plan, Utc(10, 25, 1, 30))); // 02:30 CET, the second time
    }

    [Fact]
    public void Tolerance_is_elapsed_time_across_the_jump()
    {
        // 01:55 CET ± 15 min is 01:40 CET .. 03:10 CEST: thirty minutes of real time.
        var plan = PlanWith(new CarePlanCheck("c1", "01:55", 15));

        Assert.Null(Scheduled(plan, Utc(3, 29, 0, 41))); // 01:41 CET
        Assert.Null(Scheduled(plan, Utc(3, 29, 1, 9))); // 03:09 CEST
        Assert.Equal(RefusalReason.OutsideCarePlan, Scheduled(plan, Utc(3, 29, 1, 10))); // 03:10 CEST
        Assert.Equal(Utc(3, 29, 1, 10), CarePlanPolicy.Decide(plan, SessionKinds.Scheduled, null, Utc(3, 29, 1, 0), []).Until);
    }

    [Fact]
    public void Follow_up_window_is_elapsed_time_across_the_jump()
    {
        var plan = PlanWith(new CarePlanCheck("c1", "01:50", 15));
        PastSession[] history = [new(SessionKinds.Scheduled, "c1", Utc(3, 29, 0, 55))]; // 01:55 CET

        // within 30 minutes: until 01:25 UTC, which the wall clock calls 03:25 CEST.
        Assert.Null(CarePlanPolicy.Decide(plan, SessionKinds.FollowUp, "c1", Utc(3, 29, 1, 20), history).Reason);
        Assert.Equal(RefusalReason.OutsideCarePlan, CarePlanPolicy.Decide(plan, SessionKinds.FollowUp, "c1", Utc(3, 29, 1, 26), history).Reason);
    }

    [Fact]
    public void Follow_up_in_the_repeated_hour_counts_elapsed_time_not_the_wall_clock()
    {
        var plan = PlanWith(new CarePlanCheck("c1", "02:40", 15));
        PastSession[] history = [new(SessionKinds.Scheduled, "c1", Utc(10, 25, 0, 40))]; // 02:40 CEST

        Assert.Null(CarePlanPolicy.Decide(plan, SessionKinds.FollowUp, "c1", Utc(10, 25, 1, 5), history).Reason); // 02:05 CET, 25 min later
        Assert.Equal(RefusalReason.OutsideCarePlan, CarePlanPolicy.Decide(plan, SessionKinds.FollowUp, "c1", Utc(10, 25, 1, 40), history).Reason); // 02:40 CET
    }

    [Fact]
    public void Paused_autumn_night_pauses_all_25_hours()
    {
        var plan = CarePlan.From(GrantRig.Plan(checks: [new("c1", "22:30", 15), new("c2", "02:30", 15)], paused: ["2026-10-24"]))!;

        Assert.Equal(RefusalReason.PausedNight, Scheduled(plan, Utc(10, 24, 20, 30)));
        Assert.Equal(RefusalReason.PausedNight, Scheduled(plan, Utc(10, 25, 0, 30)));
        Assert.Equal(RefusalReason.PausedNight, Scheduled(plan, Utc(10, 25, 1, 30)));
        Assert.Null(Scheduled(plan, Utc(10, 25, 21, 30))); // 22:30 CET on the next night
    }

    [Fact]
    public async Task Grant_for_the_skipped_hour_check_is_accepted_end_to_end_after_the_jump()
    {
        using var rig = new GrantRig(Utc(3, 29, 1, 25));
        await rig.ApplyPlanAsync(GrantRig.Plan(checks: [new("c1", "02:30", 15)]));

        var decision = await rig.Authorizer.AuthorizeAsync(rig.Grant());

        Assert.True(decision.Accepted, decision.Reason?.Code());
        Assert.Equal("c1", decision.Request!.Check);
    }
}
