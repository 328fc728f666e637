using HomeUnit.Agent.Grants;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Xunit;

namespace HomeUnit.Tests.Grants;

/// <summary>The care plan: signed, versioned, kept across restarts, and the rules it sets for each kind of look.</summary>
public sealed class CarePlanTests
{
    private static readonly DateTimeOffset Evening = GrantRig.Evening; // 22:30 CET on 2026-11-22

    private static RefusalReason? Decide(CarePlan? plan, string kind, DateTimeOffset at, string? check = null, params PastSession[] history) =>
        CarePlanPolicy.Decide(plan, kind, check, at, history).Reason;

    [Fact]
    public void No_plan_allows_no_scheduled_or_follow_up_look_but_installation()
    {
        Assert.Equal(RefusalReason.OutsideCarePlan, Decide(null, SessionKinds.Scheduled, Evening));
        Assert.Equal(RefusalReason.OutsideCarePlan, Decide(null, SessionKinds.FollowUp, Evening, "c1"));
        Assert.Null(Decide(null, SessionKinds.Installation, Evening));
    }

    [Fact]
    public void Installation_looks_end_when_the_plan_comes_into_force()
    {
        var plan = CarePlan.From(GrantRig.Plan(validFrom: Evening.AddHours(1).ToUnixTimeSeconds()))!;

        Assert.Null(Decide(plan, SessionKinds.Installation, Evening));
        Assert.Equal(RefusalReason.OutsideCarePlan, Decide(plan, SessionKinds.Scheduled, Evening));
        Assert.Equal(RefusalReason.OutsideCarePlan, Decide(plan, SessionKinds.Installation, Evening.AddHours(1)));
    }

    [Fact]
    public void Scheduled_look_is_allowed_within_the_tolerance_and_not_at_its_end()
    {
        var plan = CarePlan.From(GrantRig.Plan())!;

        Assert.Null(Decide(plan, SessionKinds.Scheduled, Evening.AddMinutes(-15)));
        Assert.Null(Decide(plan, SessionKinds.Scheduled, Evening.AddMinutes(15).AddSeconds(-1)));
        Assert.Equal(RefusalReason.OutsideCarePlan, Decide(plan, SessionKinds.Scheduled, Evening.AddMinutes(15)));
        Assert.Equal(RefusalReason.OutsideCarePlan, Decide(plan, SessionKinds.Scheduled, Evening.AddMinutes(-16)));
        Assert.Null(Decide(plan, SessionKinds.Scheduled, Evening.AddHours(3))); // 01:30
        Assert.Equal(Evening.AddMinutes(15), CarePlanPolicy.Decide(plan, SessionKinds.Scheduled, null, Evening, []).Until);
    }

    [Fact]
    public void Scheduled_grant_naming_a_check_is_held_to_that_check()
    {
        var plan = CarePlan.From(GrantRig.Plan())!;

        Assert.Null(Decide(plan, SessionKinds.Scheduled, Evening, "c1"));
        Assert.Equal(RefusalReason.OutsideCarePlan, Decide(plan, SessionKinds.Scheduled, Evening, "c2"));
    }

    [Fact]
    public void Paused_night_covers_its_checks_before_and_after_midnight()
    {
        var plan = CarePlan.From(GrantRig.Plan(paused: ["2026-11-22"]))!;

        Assert.Equal(RefusalReason.PausedNight, Decide(plan, SessionKinds.Scheduled, Evening));
        Assert.Equal(RefusalReason.PausedNight, Decide(plan, SessionKinds.Scheduled, Evening.AddHours(3)));
        Assert.Null(Decide(plan, SessionKinds.Scheduled, Evening.AddDays(1)));
        Assert.Equal(RefusalReason.OutsideCarePlan, Decide(plan, SessionKinds.Scheduled, Evening.AddDays(1).AddHours(1)));
    }

    [Fact]
    public void Follow_up_needs_a_scheduled_look_of_the_same_check_and_night_and_is_limited()
    {
        var plan = CarePlan.From(GrantRig.Plan())!; // within 30 minutes, at most 2
        var scheduled = new PastSession(SessionKinds.Scheduled, "c1", Evening);

        Assert.Equal(RefusalReason.OutsideCarePlan, Decide(plan, SessionKinds.FollowUp, Evening.AddMinutes(10), "c1"));
        Assert.Null(Decide(plan, SessionKinds.FollowUp, Evening.AddMinutes(10), "c1", scheduled));
        Assert.Equal(RefusalReason.OutsideCarePlan, Decide(plan, SessionKinds.FollowUp, Evening.AddMinutes(30), "c1", scheduled));
        Assert.Equal(RefusalReason.OutsideCarePlan, Decide(plan, SessionKinds.FollowUp, Evening.AddMinutes(10), "c2", scheduled));
        Assert.Equal(RefusalReason.OutsideCarePlan, Decide(plan, SessionKinds.FollowUp, Evening.AddDays(1).AddMinutes(10), "c1", scheduled));
        var two = new[] { scheduled, new PastSession(SessionKinds.FollowUp, "c1", Evening.AddMinutes(5)), new PastSession(SessionKinds.FollowUp, "c1", Evening.AddMinutes(8)) };
        Assert.Equal(RefusalReason.OutsideCarePlan, Decide(plan, SessionKinds.FollowUp, Evening.AddMinutes(10), "c1", two));
        Assert.Null(Decide(plan, SessionKinds.FollowUp, Evening.AddMinutes(10), "c1", two[..2]));
    }

    [Fact]
    public void Plan_without_follow_up_allows_none()
    {
        var plan = CarePlan.From(GrantRig.Plan(followUp: new FollowUpRule(30, 0)))!;

        Assert.Equal(RefusalReason.OutsideCarePlan, Decide(plan, SessionKinds.FollowUp, Evening.AddMinutes(10), "c1", new PastSession(SessionKinds.Scheduled, "c1", Evening)));
    }

    [Theory]
    [InlineData("Mars/Olympus_Mons", "22:30", 15)]
    [InlineData("Europe/Stockholm", "22.30", 15)]
    [InlineData("Europe/Stockholm", "24:00", 15)]
    [InlineData("Europe/Stockholm", "22:30", 0)]
    [InlineData("Europe/Stockholm", "22:30", 500)]
    public void Plan_with_an_unusable_field_is_not_a_plan(string tz, string at, int tolerance)
    {
        Assert.Null(CarePlan.From(GrantRig.Plan(tz: tz, checks: [new CarePlanCheck("c1", at, tolerance)])));
    }

    [Fact]
    public void Plan_with_two_checks_of_one_id_or_a_bad_paused_date_is_not_a_plan()
    {
        Assert.Null(CarePlan.From(GrantRig.Plan(checks: [new("c1", "22:30", 15), new("c1", "01:30", 15)])));
        Assert.Null(CarePlan.From(GrantRig.Plan(paused: ["24/11/2026"])));
    }

    [Fact]
    public async Task Applied_plan_is_audited_and_in_force_after_restart()
    {
        using var rig = new GrantRig();
        Assert.Equal(CarePlanOutcome.Applied, await rig.ApplyPlanAsync(GrantRig.Plan(version: 4)));

        rig.Restart();

        Assert.Equal(4, rig.Plans.Current!.Version);
        Assert.Equal(4, Assert.Single(rig.AuditRecords(AuditType.CarePlanApplied)).Version);
        Assert.True((await rig.Authorizer.AuthorizeAsync(rig.Grant())).Accepted);
    }

    [Fact]
    public async Task Same_version_again_is_ignored_and_older_version_is_refused()
    {
        using var rig = new GrantRig();
        await rig.ApplyPlanAsync(GrantRig.Plan(version: 4));
        rig.Restart();

        Assert.Equal(CarePlanOutcome.Unchanged, (await rig.Plans.ApplyAsync(rig.Central.Sign(GrantRig.Plan(version: 4, paused: ["2026-11-22"])))).Outcome);
        var older = await rig.Plans.ApplyAsync(rig.Central.Sign(GrantRig.Plan(version: 3, paused: ["2026-11-22"])));

        Assert.Equal((CarePlanOutcome.Refused, RefusalReason.Replayed), older);
        Assert.Empty(rig.Plans.Current!.PausedNights);
        var refused = Assert.Single(rig.AuditRecords(AuditType.CarePlanRefused));
        Assert.Equal(3, refused.Version);
        Assert.Single(rig.AuditRecords(AuditType.CarePlanApplied));
    }

    [Fact]
    public async Task Damaged_stored_plan_allows_no_look_of_any_kind_until_the_retained_plan_comes_again()
    {
        using var rig = new GrantRig();
        var plan = GrantRig.Plan(version: 5);
        await rig.ApplyPlanAsync(plan);
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={rig.Database.Path};Pooling=False"))
        {
            connection.Open();
            using var damage = connection.CreateCommand();
            damage.CommandText = "UPDATE careplan SET payload = '{\"version\":'";
            damage.ExecuteNonQuery();
        }

        rig.Restart();

        Assert.Empty(rig.Plans.Current!.Checks);
        Assert.Equal(RefusalReason.OutsideCarePlan, (await rig.Authorizer.AuthorizeAsync(rig.Grant())).Reason);
        Assert.Equal(RefusalReason.OutsideCarePlan, (await rig.Authorizer.AuthorizeAsync(rig.Grant(SessionKinds.Installation))).Reason);
        Assert.Equal(CarePlanOutcome.Applied, await rig.ApplyPlanAsync(plan));
        Assert.True((await rig.Authorizer.AuthorizeAsync(rig.Grant())).Accepted);
    }

    [Fact]
    public async Task Newer_version_replaces_the_plan()
    {
        using var rig = new GrantRig();
        await rig.ApplyPlanAsync(GrantRig.Plan(version: 1));
        await rig.ApplyPlanAsync(GrantRig.Plan(version: 2, paused: ["2026-11-22"]));

        Assert.Equal(RefusalReason.PausedNight, (await rig.Authorizer.AuthorizeAsync(rig.Grant())).Reason);
    }

    [Fact]
    public async Task Bad_plans_are_refused_with_their_reason_and_the_plan_in_force_stays()
    {
        using var rig = new GrantRig();
        await rig.ApplyPlanAsync(GrantRig.Plan(version: 1));

        Assert.Equal(RefusalReason.Malformed, (await rig.Plans.ApplyAsync(rig.Central.Sign(GrantRig.Plan(version: 2, tz: "Nowhere/Atlantis")))).Reason);
        Assert.Equal(RefusalReason.WrongAudience, (await rig.Plans.ApplyAsync(rig.Central.Sign(GrantRig.Plan(version: 2) with { Aud = "hu-other" }))).Reason);
        Assert.Equal(RefusalReason.BadSignature, (await rig.Plans.ApplyAsync(TokenForge.Unsigned("""{"alg":"none","kid":"central-1"}""", "{}"))).Reason);
        Assert.Equal(RefusalReason.Malformed, (await rig.Plans.ApplyAsync("not a token")).Reason);

        Assert.Equal(1, rig.Plans.Current!.Version);
        Assert.Equal(4, rig.AuditRecords(AuditType.CarePlanRefused).Count);
        // A plan the unit's rules refuse says which field and why.
        Assert.Contains("Nowhere/Atlantis' is not an IANA time zone", rig.AuditRecords(AuditType.CarePlanRefused)[0].Detail);
    }

    public static TheoryData<CarePlanPayload, string> PlansBeyondTheLimits() => new()
    {
        { GrantRig.Plan(version: 2, checks: [new CarePlanCheck("c1", "22:30", 121)]), "toleranceMinutes must be 1–120" },
        { GrantRig.Plan(version: 2, checks: [new CarePlanCheck("kväll", "22:30", 15)]), "printable ASCII" },
        { GrantRig.Plan(version: 2, checks: [new CarePlanCheck("c1", "22:30", 15), new CarePlanCheck("c1", "23:30", 15)]), "same id" },
        { GrantRig.Plan(version: 2, followUp: new FollowUpRule(181, 2)), "followUp" },
        { GrantRig.Plan(version: 2, paused: ["24/12"]), "yyyy-MM-dd" },
        { GrantRig.Plan(version: 2) with { PrivacyPause = new PrivacyPauseRule(481) }, "privacyPause" },
        { GrantRig.Plan(version: 2) with { ActiveUntil = 1_800_000_000 }, "only with activeCentral" },
        { GrantRig.Plan(version: 2, validFrom: -1), "validFrom" },
    };

    [Theory]
    [MemberData(nameof(PlansBeyondTheLimits))]
    public async Task A_plan_beyond_the_limits_is_refused_as_malformed_with_what_is_wrong_and_the_plan_in_force_stays(CarePlanPayload plan, string detail)
    {
        using var rig = new GrantRig();
        await rig.ApplyPlanAsync(GrantRig.Plan(version: 1));

        Assert.Equal(RefusalReason.Malformed, (await rig.Plans.ApplyAsync(rig.Central.Sign(plan))).Reason);

        Assert.Equal(1, rig.Plans.Current!.Version);
        Assert.Contains(detail, rig.AuditRecords(AuditType.CarePlanRefused).Single().Detail);
    }

    [Fact]
    public async Task Follow_up_grants_count_the_accepted_looks_in_the_audit_log()
    {
        using var rig = new GrantRig();
        await rig.ApplyPlanAsync(GrantRig.Plan()); // within 30 minutes, at most 2

        Assert.Equal(RefusalReason.OutsideCarePlan, (await rig.LookAsync(rig.Grant(SessionKinds.FollowUp, "c1"))).Reason);
        Assert.True((await rig.LookAsync(rig.Grant())).Accepted);
        rig.Clock.Advance(TimeSpan.FromMinutes(10));
        Assert.True((await rig.LookAsync(rig.Grant(SessionKinds.FollowUp, "c1"))).Accepted);
        rig.Restart();
        rig.Clock.Advance(TimeSpan.FromMinutes(10));
        Assert.True((await rig.LookAsync(rig.Grant(SessionKinds.FollowUp, "c1"))).Accepted);
        rig.Clock.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(RefusalReason.OutsideCarePlan, (await rig.LookAsync(rig.Grant(SessionKinds.FollowUp, "c1"))).Reason);
    }

    [Fact]
    public async Task Look_ends_with_the_care_plan_window()
    {
        using var rig = new GrantRig(GrantRig.Evening.AddMinutes(15).AddSeconds(-12));
        await rig.ApplyPlanAsync(GrantRig.Plan());

        var decision = await rig.Authorizer.AuthorizeAsync(rig.Grant());

        Assert.Equal(TimeSpan.FromSeconds(12), decision.Request!.MaxStreaming);
    }
}
