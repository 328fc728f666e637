using System.Text.Json.Nodes;
using FsCheck;
using FsCheck.Fluent;
using HomeUnit.Agent.Grants;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Xunit;

namespace HomeUnit.Tests.Grants;

/// <summary>
/// P1 as a property: for any sequence of care plans, grants (fresh or replayed) and clock times, a
/// look is accepted only inside the accepted grant's window ∩ the care plan's window, and every look
/// that lies well inside both is accepted. The expected windows are worked out here in local
/// wall-clock arithmetic, independently of the device's instant-based code; the nights are chosen
/// outside daylight-saving changes, where both must agree (the DST nights have their own tests).
/// </summary>
public sealed class LookPropertyTests
{
    private static readonly TimeZoneInfo Stockholm = TimeZoneInfo.FindSystemTimeZoneById("Europe/Stockholm");
    private static readonly TimeSpan Skew = TrustPolicy.DefaultClockSkew;
    private static readonly string[] CheckTimes = ["21:00", "22:30", "23:45", "00:15", "01:30", "03:00", "05:45", "11:50", "12:10"];

    public sealed record PlanStep(long Version, string[] Times, int Tolerance, int Within, int Max, int[] PausedNightOffsets, int ValidFromHours)
    {
        public override string ToString() =>
            $"plan v{Version} [{string.Join(" ", Times)}]±{Tolerance} follow-up {Within}min/{Max} paused [{string.Join(" ", PausedNightOffsets)}] validFrom {ValidFromHours:+0;-0}h";
    }

    public sealed record GrantStep(string Kind, string? Check, int NbfOffset, int WindowSeconds, int MaxSeconds, bool Replay);

    public sealed record Step(int AdvanceSeconds, PlanStep? Plan, GrantStep? Grant);

    public sealed record Scenario(DateOnly Night, PlanStep FirstPlan, int StartSeconds, Step[] Steps)
    {
        public override string ToString() =>
            $"night {Night:yyyy-MM-dd}, {FirstPlan}, start {StartSeconds:+0;-0} s from its first check, then:\n  " +
            string.Join("\n  ", Steps.Select(s => $"+{s.AdvanceSeconds} s: {(object?)s.Plan ?? s.Grant}"));
    }

    private static Gen<PlanStep> Plans =>
        from version in Gen.Choose(1, 4)
        from count in Gen.Choose(1, 3)
        from times in Gen.Elements(CheckTimes).ArrayOf(count)
        from tolerance in Gen.Elements(5, 15, 30, 30)
        from within in Gen.Elements(10, 20, 30)
        from max in Gen.Choose(0, 3)
        from paused in Gen.Elements(new int[0], [0], [1], [0, 1], [-1])
        from validFrom in Gen.Elements(-24, -24, -24, 1, 3)
        select new PlanStep(version, times.Distinct().ToArray(), tolerance, within, max, paused, validFrom);

    private static Gen<GrantStep> Grants =>
        from kind in Gen.Frequency((4, Gen.Constant(SessionKinds.Scheduled)), (4, Gen.Constant(SessionKinds.FollowUp)), (1, Gen.Constant(SessionKinds.Installation)))
        from check in Gen.Frequency((3, Gen.Constant<string?>(null)), (3, Gen.Constant<string?>("c0")), (1, Gen.Elements<string?>("c1", "c2", "cx")))
        from nbf in Gen.Frequency((3, Gen.Choose(-60, 0)), (2, Gen.Choose(-400, 100)))
        from window in Gen.Frequency((6, Gen.Choose(60, 300)), (2, Gen.Choose(1, 60)), (1, Gen.Choose(301, 400)))
        from maxSeconds in Gen.Choose(1, 120)
        from replay in Gen.Frequency((6, Gen.Constant(false)), (1, Gen.Constant(true)))
        select new GrantStep(kind, kind == SessionKinds.FollowUp ? check ?? "c0" : check, nbf, window, maxSeconds, replay);

    private static Gen<Step> Steps =>
        from advance in Gen.Frequency((6, Gen.Choose(0, 120)), (2, Gen.Choose(120, 900)), (1, Gen.Choose(900, 3600)))
        from plan in Gen.Frequency((1, Plans.Select(p => (PlanStep?)p)), (6, Gen.Constant<PlanStep?>(null)))
        from grant in Grants
        select new Step(advance, plan, plan is null ? grant : null);

    private static Gen<Scenario> Scenarios =>
        from day in Gen.Choose(0, 100) // nights from 2026-11-01 to 2027-02-09: no daylight-saving change
        from first in Plans
        from installing in Gen.Frequency((4, Gen.Constant(false)), (1, Gen.Constant(true)))
        from start in Gen.Choose(-300, 120)
        from length in Gen.Choose(5, 30)
        from steps in Steps.ArrayOf(length)
        select new Scenario(new DateOnly(2026, 11, 1).AddDays(day), installing ? first : first with { ValidFromHours = -24 }, start, steps);

    [Fact]
    public void Looks_are_accepted_exactly_inside_the_grant_and_care_plan_windows()
    {
        var accepted = new Dictionary<string, int>();
        var property = Prop.ForAll(Scenarios.ToArbitrary(), scenario =>
        {
            foreach (var kind in Task.Run(() => RunAsync(scenario)).GetAwaiter().GetResult())
            {
                accepted[kind] = accepted.GetValueOrDefault(kind) + 1;
            }
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(150), property);
        // A property that never reaches an accepted look of each kind would prove little.
        Assert.All(SessionKinds.All, kind => Assert.True(accepted.GetValueOrDefault(kind) >= 2, $"only {accepted.GetValueOrDefault(kind)} {kind} looks accepted"));
    }

    private sealed record Accepted(string Jti, string Kind, string? Check, DateTimeOffset At);

    private static async Task<IEnumerable<string>> RunAsync(Scenario scenario)
    {
        // Start near the first plan's first check, where looks are likely to be allowed.
        var firstCheck = WallClock.CheckInstant(scenario.Night, TimeOnly.Parse(scenario.FirstPlan.Times[0]), Stockholm);
        using var rig = new GrantRig(firstCheck.AddSeconds(scenario.StartSeconds));
        CarePlan? plan = null;
        var accepted = new List<Accepted>();
        var issued = new List<string>();
        foreach (var step in scenario.Steps.Prepend(new Step(0, scenario.FirstPlan, null)))
        {
            rig.Clock.Advance(TimeSpan.FromSeconds(step.AdvanceSeconds));
            var now = rig.Clock.GetUtcNow();
            if (step.Plan is { } p)
            {
                var payload = PlanPayload(p, scenario.Night, now);
                var (outcome, _) = await rig.Plans.ApplyAsync(rig.Central.Sign(payload));
                var expected = plan is null || p.Version > plan.Version ? CarePlanOutcome.Applied
                    : p.Version == plan.Version ? CarePlanOutcome.Unchanged : CarePlanOutcome.Refused;
                Assert.Equal(expected, outcome);
                plan = outcome == CarePlanOutcome.Applied ? CarePlan.From(payload) : plan;
                continue;
            }
            var g = step.Grant!;
            var token = g.Replay && issued.Count > 0 ? issued[^1] : Sign(rig, g, now);
            issued.Add(token);
            var claims = JsonNode.Parse(TokenForge.PayloadOf(token))!.AsObject();
            var decision = await rig.Authorizer.AuthorizeAsync(token);
            var (jti, nbf, exp) = ((string)claims["jti"]!, DateTimeOffset.FromUnixTimeSeconds((long)claims["nbf"]!), DateTimeOffset.FromUnixTimeSeconds((long)claims["exp"]!));
            var kind = (string)claims["kind"]!;
            var check = (string?)claims["check"];
            if (decision.Request is { } look)
            {
                var end = now + look.MaxStreaming;
                Assert.True(accepted.All(a => a.Jti != jti), $"{jti} accepted twice");
                Assert.True(exp - nbf <= TrustPolicy.MaxWindow, "window longer than 5 minutes accepted");
                Assert.True(now >= nbf - Skew && end <= exp, $"look {now:O}..{end:O} outside grant {nbf:O}..{exp:O} (the skew widens acceptance only)");
                Assert.True(look.MaxStreaming >= SessionAuthorizer.MinimumLook && look.MaxStreaming <= TimeSpan.FromSeconds(Math.Min((int)claims["maxSeconds"]!, 60)));
                Assert.True(PlanAllows(plan, kind, check, now, end, accepted), $"{kind} look {check} at {Local(now)}..{Local(end)} outside the care plan {plan}");
                rig.RecordAccepted(look);
                accepted.Add(new Accepted(jti, kind, look.Check, now));
            }
            else
            {
                var clearlyInside = accepted.All(a => a.Jti != jti) && exp - nbf <= TrustPolicy.MaxWindow
                    && now >= nbf && now + TimeSpan.FromSeconds(2) <= exp
                    && PlanAllows(plan, kind, check, now, now + TimeSpan.FromSeconds(2), accepted);
                Assert.False(clearlyInside, $"{kind} look {check} at {Local(now)} refused ({decision.Reason}) though inside grant and plan {plan}");
            }
        }
        return accepted.Select(a => a.Kind);
    }

    private static string Sign(GrantRig rig, GrantStep g, DateTimeOffset now)
    {
        var spec = rig.GrantSpec(g.Kind, g.Check) with
        {
            NotBefore = now.AddSeconds(g.NbfOffset),
            ValidFor = TimeSpan.FromSeconds(g.WindowSeconds),
            MaxSeconds = g.MaxSeconds,
        };
        return rig.Central.Grant(spec, now);
    }

    private static CarePlanPayload PlanPayload(PlanStep p, DateOnly night, DateTimeOffset now) => GrantRig.Plan(
        version: p.Version,
        checks: p.Times.Select((t, i) => new CarePlanCheck($"c{i}", t, p.Tolerance)).ToArray(),
        followUp: new FollowUpRule(p.Within, p.Max),
        paused: p.PausedNightOffsets.Select(d => night.AddDays(d).ToString("yyyy-MM-dd")).ToArray(),
        validFrom: now.AddHours(p.ValidFromHours).ToUnixTimeSeconds());

    private static DateTime Local(DateTimeOffset at) => TimeZoneInfo.ConvertTime(at, Stockholm).DateTime;

    /// <summary>The night (noon to noon) a local time belongs to.</summary>
    private static DateOnly NightOf(DateTime local) => DateOnly.FromDateTime(local.Hour < 12 ? local.AddDays(-1) : local);

    private static bool PlanAllows(CarePlan? plan, string kind, string? check, DateTimeOffset start, DateTimeOffset end, List<Accepted> accepted)
    {
        var inForce = plan is not null && start >= plan.ValidFrom;
        if (kind == SessionKinds.Installation)
        {
            return !inForce;
        }
        if (!inForce)
        {
            return false;
        }
        var (from, to) = (Local(start), Local(end));
        var night = NightOf(from);
        if (kind == SessionKinds.Scheduled)
        {
            foreach (var c in plan!.Checks.Where(c => check is null || c.Id == check))
            {
                for (var day = from.Date.AddDays(-1); day <= from.Date.AddDays(1); day = day.AddDays(1))
                {
                    var at = day + c.At.ToTimeSpan();
                    if (from >= at - c.Tolerance && to <= at + c.Tolerance && !plan.PausedNights.Contains(NightOf(at)))
                    {
                        return true;
                    }
                }
            }
            return false;
        }
        var rule = plan!.FollowUp!;
        var tonight = accepted.Where(a => a.Check == check && NightOf(Local(a.At)) == night).ToList();
        return !plan.PausedNights.Contains(night)
            && tonight.Count(a => a.Kind == SessionKinds.FollowUp) < rule.Max
            && tonight.Any(a => a.Kind == SessionKinds.Scheduled && a.At <= start && to <= Local(a.At).AddMinutes(rule.WithinMinutes));
    }
}
