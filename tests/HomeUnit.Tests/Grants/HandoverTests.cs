using System.Text.Json;
using HomeUnit.Central;
using HomeUnit.Agent.Grants;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Xunit;

namespace HomeUnit.Tests.Grants;

/// <summary>
/// Several trusted centrals: the primary is in charge until it hands supervision to a standby, by a
/// signed <c>handover</c> command or a care plan naming the <c>activeCentral</c>, and takes it back the same way.
/// </summary>
public sealed class HandoverTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    private static async Task<GrantRig> PlannedRigAsync()
    {
        var rig = new GrantRig(standby: true);
        await rig.ApplyPlanAsync(GrantRig.Plan());
        return rig;
    }

    private static string Grant(GrantRig rig, CentralSigner central) => central.Grant(rig.GrantSpec(), rig.Clock.GetUtcNow());

    private static string Handover(GrantRig rig, CentralSigner by, string to, DateTimeOffset? until = null) =>
        by.Handover(GrantRig.DeviceId, to, rig.Clock.GetUtcNow(), Minute, until);

    /// <summary>
    /// The command through the unit's own <c>CentralMessages</c>, as the link hands it over: the reason it was refused
    /// for, or null once it was carried out (a new handover record in the chain). Neither is a failure of the test.
    /// </summary>
    private static async Task<RefusalReason?> SendHandoverAsync(GrantRig rig, string token)
    {
        int Count(params AuditType[] types) => rig.Audit.List().Count(r => types.Contains(r.Type));
        var (refusedBefore, handoversBefore) = (Count(AuditType.CommandRefused), Count(AuditType.HandoverStarted, AuditType.HandoverEnded));

        await rig.Messages.HandleAsync(Topics.Command, token);

        if (rig.AuditRecords(AuditType.CommandRefused).Skip(refusedBefore).SingleOrDefault() is { } refused)
        {
            return Codes.Parse<RefusalReason>(refused.Reason) ?? throw new InvalidOperationException($"refused for '{refused.Reason}', not a refusal reason");
        }
        Assert.True(Count(AuditType.HandoverStarted, AuditType.HandoverEnded) > handoversBefore, "the handover was neither refused nor carried out");
        return null;
    }

    private static IEnumerable<JsonElement> Events(GrantRig rig, string type) =>
        rig.Outbox.Peek(1000).Where(i => i.Topic == Topics.Event).Select(i => JsonDocument.Parse(i.Payload).RootElement)
            .Where(e => e.GetProperty("type").GetString() == type);

    [Fact]
    public async Task Standby_grant_is_refused_until_the_primary_hands_over_then_accepted_and_its_looks_name_the_standby()
    {
        using var rig = await PlannedRigAsync();

        var before = await rig.LookAsync(Grant(rig, rig.Standby));
        Assert.Equal(RefusalReason.StandbyNotActive, before.Reason);
        var refused = rig.AuditRecords(AuditType.SessionRefused).Single();
        Assert.Equal((RefusalReason.StandbyNotActive.Code(), GrantRig.StandbyIssuer), (refused.Reason, refused.Issuer));

        Assert.Null(await SendHandoverAsync(rig, Handover(rig, rig.Central, GrantRig.StandbyIssuer)));

        Assert.Equal(GrantRig.StandbyIssuer, rig.Supervision.Current.Central.Issuer);
        var started = rig.AuditRecords(AuditType.HandoverStarted).Single();
        Assert.Equal((GrantRig.PrimaryIssuer, GrantRig.StandbyIssuer), (started.Issuer, started.Central));
        Assert.Single(Events(rig, AuditType.HandoverStarted.Code()));
        var after = await rig.LookAsync(Grant(rig, rig.Standby));
        Assert.True(after.Accepted, after.Reason?.Code());
        Assert.Equal(GrantRig.StandbyIssuer, after.Request!.Issuer);
        // While the standby is in charge, the primary's grants and commands do not open looks.
        Assert.Equal(RefusalReason.PrimaryNotActive, (await rig.LookAsync(Grant(rig, rig.Central))).Reason);
        Assert.Equal(RefusalReason.PrimaryNotActive, (await rig.Commands.VerifyAsync(rig.Central.Command(GrantRig.DeviceId, CommandNames.SelfTest, rig.Clock.GetUtcNow(), Minute))).Reason);
    }

    [Fact]
    public async Task Standby_command_is_refused_and_audited_while_it_is_not_in_charge()
    {
        using var rig = await PlannedRigAsync();

        var verdict = await rig.Commands.VerifyAsync(rig.Standby.Command(GrantRig.DeviceId, CommandNames.Stop, rig.Clock.GetUtcNow(), Minute));

        Assert.Equal(RefusalReason.StandbyNotActive, verdict.Reason);
        var record = rig.AuditRecords(AuditType.CommandRefused).Single();
        Assert.Equal((RefusalReason.StandbyNotActive.Code(), GrantRig.StandbyIssuer, CommandNames.Stop), (record.Reason, record.Issuer, record.Command));
    }

    [Fact]
    public async Task Handover_signed_by_the_standby_itself_is_refused_even_while_it_is_in_charge()
    {
        using var rig = await PlannedRigAsync();

        Assert.Equal(RefusalReason.NotPrimary, await SendHandoverAsync(rig, Handover(rig, rig.Standby, GrantRig.StandbyIssuer)));
        Assert.Equal(GrantRig.PrimaryIssuer, rig.Supervision.Current.Central.Issuer);

        Assert.Null(await SendHandoverAsync(rig, Handover(rig, rig.Central, GrantRig.StandbyIssuer, until: rig.Clock.GetUtcNow().AddHours(1))));
        // In charge, the standby still cannot hand on or stretch its own time.
        Assert.Equal(RefusalReason.NotPrimary, await SendHandoverAsync(rig, Handover(rig, rig.Standby, GrantRig.StandbyIssuer, until: rig.Clock.GetUtcNow().AddHours(9))));
        Assert.Equal(rig.Clock.GetUtcNow().AddHours(1).ToUnixTimeSeconds(), rig.Supervision.Current.Until!.Value.ToUnixTimeSeconds());
        Assert.Equal(2, rig.AuditRecords(AuditType.CommandRefused).Count(r => r.Reason == RefusalReason.NotPrimary.Code() && r.Issuer == GrantRig.StandbyIssuer));
    }

    [Fact]
    public async Task Replayed_handover_is_refused_even_after_the_primary_took_supervision_back()
    {
        using var rig = await PlannedRigAsync();
        var handover = Handover(rig, rig.Central, GrantRig.StandbyIssuer);
        Assert.Null(await SendHandoverAsync(rig, handover));
        Assert.Null(await SendHandoverAsync(rig, Handover(rig, rig.Central, GrantRig.PrimaryIssuer)));
        rig.Restart();

        Assert.Equal(RefusalReason.Replayed, await SendHandoverAsync(rig, handover));

        Assert.Equal(GrantRig.PrimaryIssuer, rig.Supervision.Current.Central.Issuer);
        Assert.Single(rig.AuditRecords(AuditType.HandoverStarted));
    }

    [Fact]
    public async Task Primary_takes_supervision_back_and_the_standby_is_refused_again()
    {
        using var rig = await PlannedRigAsync();
        Assert.Null(await SendHandoverAsync(rig, Handover(rig, rig.Central, GrantRig.StandbyIssuer)));
        Assert.True((await rig.LookAsync(Grant(rig, rig.Standby))).Accepted);

        Assert.Null(await SendHandoverAsync(rig, Handover(rig, rig.Central, GrantRig.PrimaryIssuer)));

        var ended = rig.AuditRecords(AuditType.HandoverEnded).Single();
        Assert.Equal((GrantRig.StandbyIssuer, HandoverEndReason.TakenBack.Code(), GrantRig.PrimaryIssuer), (ended.Central, ended.Reason, ended.Issuer));
        Assert.Single(Events(rig, AuditType.HandoverEnded.Code()));
        Assert.Equal(RefusalReason.StandbyNotActive, (await rig.LookAsync(Grant(rig, rig.Standby))).Reason);
        Assert.True((await rig.LookAsync(Grant(rig, rig.Central))).Accepted);
        Assert.Null(AuditChain.Verify(rig.Audit.List()));
    }

    [Fact]
    public async Task Handover_with_an_end_time_returns_supervision_to_the_primary_by_itself()
    {
        using var rig = await PlannedRigAsync();
        var until = rig.Clock.GetUtcNow().AddMinutes(30);
        Assert.Null(await SendHandoverAsync(rig, Handover(rig, rig.Central, GrantRig.StandbyIssuer, until)));
        Assert.Equal(until.ToUnixTimeSeconds(), DateTimeOffset.Parse(rig.AuditRecords(AuditType.HandoverStarted).Single().Until!, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeSeconds());
        rig.Supervision.EndIfExpired();
        Assert.Empty(rig.AuditRecords(AuditType.HandoverEnded));

        rig.Clock.Advance(TimeSpan.FromMinutes(31));

        // From the end time on the primary is in charge, before the record is even written.
        Assert.Equal(GrantRig.PrimaryIssuer, rig.Supervision.Current.Central.Issuer);
        rig.Supervision.EndIfExpired();
        rig.Supervision.EndIfExpired();
        Assert.Equal(HandoverEndReason.Expired.Code(), rig.AuditRecords(AuditType.HandoverEnded).Single().Reason);
        rig.Restart();
        Assert.Equal(GrantRig.PrimaryIssuer, rig.Supervision.Current.Central.Issuer);
    }

    [Fact]
    public async Task Handover_survives_a_restart()
    {
        using var rig = await PlannedRigAsync();
        Assert.Null(await SendHandoverAsync(rig, Handover(rig, rig.Central, GrantRig.StandbyIssuer)));

        rig.Restart();

        Assert.Equal(GrantRig.StandbyIssuer, rig.Supervision.Current.Central.Issuer);
        Assert.True((await rig.LookAsync(Grant(rig, rig.Standby))).Accepted);
    }

    [Fact]
    public async Task Handover_naming_an_unknown_central_or_an_end_already_past_is_refused()
    {
        using var rig = await PlannedRigAsync();

        Assert.Equal(RefusalReason.UnknownCentral, await SendHandoverAsync(rig, Handover(rig, rig.Central, "someone-else")));
        Assert.Equal(RefusalReason.Malformed, await SendHandoverAsync(rig, Handover(rig, rig.Central, GrantRig.StandbyIssuer, rig.Clock.GetUtcNow().AddMinutes(-1))));
        Assert.Equal(RefusalReason.Malformed, (await rig.Commands.VerifyAsync(rig.Central.Sign(new CommandPayload(rig.Central.Issuer, GrantRig.DeviceId, "c-1",
            rig.Clock.GetUtcNow().ToUnixTimeSeconds(), rig.Clock.GetUtcNow().ToUnixTimeSeconds(), rig.Clock.GetUtcNow().Add(Minute).ToUnixTimeSeconds(),
            CommandNames.Stop, To: GrantRig.StandbyIssuer)))).Reason);
        Assert.Equal(GrantRig.PrimaryIssuer, rig.Supervision.Current.Central.Issuer);
    }

    [Fact]
    public async Task A_key_of_one_central_never_verifies_the_other_centrals_tokens()
    {
        using var rig = await PlannedRigAsync();
        Assert.Null(await SendHandoverAsync(rig, Handover(rig, rig.Central, GrantRig.StandbyIssuer)));

        // The standby's key speaking for the primary, and the primary's key speaking for the standby.
        var standbyAsPrimary = new CentralSigner(rig.StandbyKey, GrantRig.StandbyKid, GrantRig.PrimaryIssuer);
        var primaryAsStandby = new CentralSigner(rig.Key, GrantRig.Kid, GrantRig.StandbyIssuer);
        // The primary's key under the standby's kid.
        var primaryKeyStandbyKid = new CentralSigner(rig.Key, GrantRig.StandbyKid, GrantRig.StandbyIssuer);

        Assert.Equal(RefusalReason.UnknownKey, (await rig.LookAsync(Grant(rig, standbyAsPrimary))).Reason);
        Assert.Equal(RefusalReason.UnknownKey, (await rig.LookAsync(Grant(rig, primaryAsStandby))).Reason);
        Assert.Equal(RefusalReason.BadSignature, (await rig.LookAsync(Grant(rig, primaryKeyStandbyKid))).Reason);
        Assert.Equal(RefusalReason.UnknownKey, await SendHandoverAsync(rig, Handover(rig, standbyAsPrimary, GrantRig.StandbyIssuer)));
    }

    [Fact]
    public async Task Care_plan_naming_the_active_central_hands_over_and_only_the_central_in_charge_sends_plans()
    {
        using var rig = await PlannedRigAsync();
        var plan = GrantRig.Plan(version: 2) with { Iss = GrantRig.StandbyIssuer };
        Assert.Equal((CarePlanOutcome.Refused, RefusalReason.StandbyNotActive), await rig.Plans.ApplyAsync(rig.Standby.Sign(plan)));

        var handover = GrantRig.Plan(version: 2) with { Iss = GrantRig.PrimaryIssuer, ActiveCentral = GrantRig.StandbyIssuer };
        Assert.Equal(CarePlanOutcome.Applied, (await rig.Plans.ApplyAsync(rig.Central.Sign(handover))).Outcome);

        Assert.Equal(GrantRig.StandbyIssuer, rig.Supervision.Current.Central.Issuer);
        Assert.Equal(2, rig.AuditRecords(AuditType.HandoverStarted).Single().Version);
        // The retained plan coming back on a reconnect changes nothing.
        Assert.Equal(CarePlanOutcome.Unchanged, (await rig.Plans.ApplyAsync(rig.Central.Sign(handover))).Outcome);
        Assert.Single(rig.AuditRecords(AuditType.HandoverStarted));
        Assert.Equal(CarePlanOutcome.Applied, (await rig.Plans.ApplyAsync(rig.Standby.Sign(GrantRig.Plan(version: 3) with { Iss = GrantRig.StandbyIssuer }))).Outcome);
        Assert.Equal(GrantRig.StandbyIssuer, rig.AuditRecords(AuditType.CarePlanApplied).Last().Issuer);
        // The primary's ordinary plan does not take back by accident; the standby cannot hand on.
        Assert.Equal((CarePlanOutcome.Refused, RefusalReason.PrimaryNotActive), await rig.Plans.ApplyAsync(rig.Central.Sign(GrantRig.Plan(version: 4) with { Iss = GrantRig.PrimaryIssuer })));
        Assert.Equal((CarePlanOutcome.Refused, RefusalReason.NotPrimary),
            await rig.Plans.ApplyAsync(rig.Standby.Sign(GrantRig.Plan(version: 4) with { Iss = GrantRig.StandbyIssuer, ActiveCentral = GrantRig.PrimaryIssuer })));

        var takeBack = GrantRig.Plan(version: 4) with { Iss = GrantRig.PrimaryIssuer, ActiveCentral = GrantRig.PrimaryIssuer };
        Assert.Equal(CarePlanOutcome.Applied, (await rig.Plans.ApplyAsync(rig.Central.Sign(takeBack))).Outcome);

        Assert.Equal(GrantRig.PrimaryIssuer, rig.Supervision.Current.Central.Issuer);
        Assert.Equal(HandoverEndReason.TakenBack.Code(), rig.AuditRecords(AuditType.HandoverEnded).Single().Reason);
        Assert.Equal((CarePlanOutcome.Refused, RefusalReason.StandbyNotActive), await rig.Plans.ApplyAsync(rig.Standby.Sign(GrantRig.Plan(version: 5) with { Iss = GrantRig.StandbyIssuer })));
    }

    [Fact]
    public async Task A_standbys_own_plan_naming_itself_neither_stretches_nor_ends_its_time_in_charge()
    {
        using var rig = await PlannedRigAsync();
        var until = rig.Clock.GetUtcNow().AddHours(1);
        Assert.Null(await SendHandoverAsync(rig, Handover(rig, rig.Central, GrantRig.StandbyIssuer, until)));

        foreach (var (version, activeUntil) in new (long, long?)[] { (2, until.AddHours(9).ToUnixTimeSeconds()), (3, null) })
        {
            var own = GrantRig.Plan(version: version) with { Iss = GrantRig.StandbyIssuer, ActiveCentral = GrantRig.StandbyIssuer, ActiveUntil = activeUntil };
            Assert.Equal(CarePlanOutcome.Applied, (await rig.Plans.ApplyAsync(rig.Standby.Sign(own))).Outcome);
        }

        Assert.Equal(until.ToUnixTimeSeconds(), rig.Supervision.Current.Until!.Value.ToUnixTimeSeconds());
        Assert.Single(rig.AuditRecords(AuditType.HandoverStarted));
        Assert.Empty(rig.AuditRecords(AuditType.HandoverEnded));
    }

    [Fact]
    public async Task A_unit_configured_with_one_issuer_has_that_central_as_primary_and_in_charge()
    {
        using var rig = new GrantRig();
        await rig.ApplyPlanAsync(GrantRig.Plan());

        Assert.Equal((CentralSigner.DefaultIssuer, true), (rig.Supervision.Current.Central.Issuer, rig.Supervision.Current.Central.IsPrimary));
        Assert.True((await rig.LookAsync(rig.Grant())).Accepted);
    }
}
